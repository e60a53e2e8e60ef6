package store

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// mgetMax is the most keys one MGET reads: a batch of the hub's default
// size is one command, and no single command holds Redis long.
const mgetMax = 512

// gets is a pipelined read of string keys: an MGET per mgetMax keys where
// mget allows, else a GET each (also for one key: a GET tells missing from
// another type).
type gets struct {
	one  []*redis.StringCmd
	many []*redis.SliceCmd
}

func queueGets(ctx context.Context, p redis.Pipeliner, keys []string, mget bool) gets {
	var g gets
	if !mget || len(keys) < 2 {
		for _, k := range keys {
			g.one = append(g.one, p.Get(ctx, k))
		}
		return g
	}
	for i := 0; i < len(keys); i += mgetMax {
		g.many = append(g.many, p.MGet(ctx, keys[i:min(i+mgetMax, len(keys))]...))
	}
	return g
}

// value is one key as a read found it: a string (str), missing (gone: a
// GET tells; an MGET answers nil alike for a missing key and a hash), or
// another type.
type value struct {
	data      []byte
	str, gone bool
}

// values returns what each key read, in order, or the error of the first
// command that failed.
func (g gets) values() ([]value, error) {
	var vs []value
	for _, c := range g.one {
		data, err := c.Bytes()
		switch {
		case err == redis.Nil:
			vs = append(vs, value{gone: true})
		case isWrongType(err):
			vs = append(vs, value{})
		case err != nil:
			return nil, failed(c)
		default:
			vs = append(vs, value{data: data, str: true})
		}
	}
	for _, c := range g.many {
		got, err := c.Result()
		if err != nil {
			return nil, failed(c)
		}
		for _, v := range got {
			s, ok := v.(string)
			vs = append(vs, value{data: []byte(s), str: ok})
		}
	}
	return vs, nil
}
