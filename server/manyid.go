package server

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"jobwait/store"
)

// DefaultMaxIDs is Config.MaxIDs's default: the most jobs one many-job
// stream or long poll waits for.
const DefaultMaxIDs = 50

// parseIDs reads the ids query parameter of the many-job routes: 1 to max
// comma-separated job ids, each valid, none twice. More than max is
// REQ_001 (checked first, before any id is looked at); a bad id is JOB_002
// naming it.
func parseIDs(s string, max int) ([]string, error) {
	if s == "" {
		return nil, badParam("ids에 기다릴 Job ID를 쉼표로 구분해 적어주세요 (예: ids=a,b,c)")
	}
	if n := strings.Count(s, ",") + 1; n > max {
		return nil, badParam(fmt.Sprintf("ids에는 Job ID를 %d개까지 적을 수 있습니다 (%d개)", max, n))
	}
	ids := strings.Split(s, ",")
	seen := make(map[string]struct{}, len(ids))
	for _, id := range ids {
		if !store.ValidID(id) {
			return nil, badJobID(id)
		}
		if _, dup := seen[id]; dup {
			return nil, badParam(fmt.Sprintf("ids에 같은 Job ID가 두 번 있습니다: %s", id))
		}
		seen[id] = struct{}{}
	}
	return ids, nil
}

// badJobID is JOB_002 naming the id (cut to a sensible length, quoted so
// that nothing in it can pass for something else).
func badJobID(id string) *Error {
	if len(id) > store.MaxIDLen {
		id = strings.ToValidUTF8(id[:store.MaxIDLen], "") + "…"
	} else if !utf8.ValidString(id) {
		id = strings.ToValidUTF8(id, "\uFFFD")
	}
	return &Error{Status: ErrBadJobID.Status, Code: ErrBadJobID.Code,
		Message: fmt.Sprintf("잘못된 Job ID입니다: %q: 1~64자의 영문, 숫자, '_', '-'만 쓸 수 있습니다", id)}
}

// lastEventID is the id a stream resumes from: the Last-Event-ID header
// (what EventSource sends by itself), else the lastEventId query parameter
// (what a client that must open a new EventSource can still send).
func lastEventID(c *fiber.Ctx) string {
	if id := c.Get("Last-Event-ID"); id != "" {
		return id
	}
	return c.Query("lastEventId")
}

// A many-job stream's event id carries the stream's deadline, the event's
// sequence number and which of the listed jobs have had their final event,
// so that a reconnect to any replica keeps the deadline and resends no
// final event it already got, nor loses one it missed:
// "<deadline unix ms>-<seq>-<mask>", and "…-end" on the stream's last
// event. The mask is hex, one digit per four positions of the ids list,
// the first digit for positions 0–3, position 4k+j as bit j of digit k:
// at most 13 digits for the default 50 jobs.
//
// maxManyIDBase bounds an id's length but its mask.
const maxManyIDBase = 48

// appendManyEventID appends the id of event seq of a stream ending at
// deadline, with the jobs marked in ended already ended.
func appendManyEventID(b []byte, deadline time.Time, seq uint64, ended []bool, final bool) []byte {
	b = strconv.AppendInt(b, deadline.UnixMilli(), 10)
	b = append(b, '-')
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, '-')
	const hex = "0123456789abcdef"
	for k := 0; k < len(ended); k += 4 {
		var d byte
		for j := 0; j < 4 && k+j < len(ended); j++ {
			if ended[k+j] {
				d |= 1 << j
			}
		}
		b = append(b, hex[d])
	}
	if final {
		b = append(b, finalSuffix...)
	}
	return b
}

// manyResume is what a Last-Event-ID says about the many-job stream it
// continues.
type manyResume struct {
	deadline time.Time
	seq      uint64
	ended    []bool // one per listed job
	final    bool   // the last event ended the stream
}

// done reports whether the stream resumed had nothing left to send.
func (r manyResume) done() bool {
	if r.final {
		return true
	}
	for _, e := range r.ended {
		if !e {
			return false
		}
	}
	return true
}

// parseManyEventID reads a Last-Event-ID for a stream of n jobs. A
// one-job stream's id ("<ms>-<seq>") is read as one with no job ended.
// ok is false for an absent or malformed id, or a mask for more jobs than
// n: the stream then starts afresh.
func parseManyEventID(s string, n int) (r manyResume, ok bool) {
	digits := (n + 3) / 4
	if s == "" || len(s) > maxManyIDBase+digits {
		return manyResume{}, false
	}
	s, r.final = strings.CutSuffix(s, finalSuffix)
	ms, rest, found := strings.Cut(s, "-")
	if !found {
		return manyResume{}, false
	}
	seq, mask, _ := strings.Cut(rest, "-")
	m, err1 := strconv.ParseInt(ms, 10, 64)
	q, err2 := strconv.ParseUint(seq, 10, 64)
	if err1 != nil || err2 != nil || m < 0 || len(mask) > digits {
		return manyResume{}, false
	}
	r.deadline, r.seq, r.ended = time.UnixMilli(m), q, make([]bool, n)
	for k := 0; k < len(mask); k++ {
		d, err := strconv.ParseUint(mask[k:k+1], 16, 8)
		if err != nil {
			return manyResume{}, false
		}
		for j := 0; j < 4; j++ {
			if d&(1<<j) != 0 {
				if 4*k+j >= n {
					return manyResume{}, false
				}
				r.ended[4*k+j] = true
			}
		}
	}
	return r, true
}
