package store_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"jobwait/store"
	"jobwait/store/redistest"
)

// BenchmarkRead reads batches of PROCESSING jobs from a private
// redis-server as the hub does: a poll or safety re-read (the records
// alone), a read a notification calls for (with the outcomes of the drafts
// waiters know), and the guard's lookup of their time to live. Besides
// ns/op (the round trip, on loopback) it reports the commands sent and
// the CPU time Redis spent per read (INFO cpu):
//
//	go test -run XXX -bench BenchmarkRead -benchtime 2000x ./store/
func BenchmarkRead(b *testing.B) {
	ctx := context.Background()
	srv := redistest.Start(b)
	c := srv.Client(b)
	trips := redistest.CountTrips(c)
	st := store.New(c)
	const most = 512
	ids, drafts := make([]string, most), make([]string, most)
	for i := range ids {
		ids[i], drafts[i] = fmt.Sprintf("bench-%d", i), fmt.Sprintf("draft-%d", i)
		if _, err := st.Start(ctx, store.Job{JobID: ids[i], EventDraftID: drafts[i]}); err != nil {
			b.Fatal(err)
		}
	}
	kinds := []struct {
		name string
		read func(n int) error
	}{
		{"records", func(n int) error { _, err := st.ReadMany(ctx, ids[:n]); return err }},
		{"change", func(n int) error {
			_, err := st.ReadManyWith(ctx, ids[:n], store.Hints{Drafts: drafts[:n]})
			return err
		}},
		{"ttls", func(n int) error { _, err := st.TTLs(ctx, ids[:n]); return err }},
	}
	for _, n := range []int{1, 64, most} {
		for _, k := range kinds {
			b.Run(fmt.Sprintf("jobs=%d/%s", n, k.name), func(b *testing.B) {
				cpu0 := redisCPU(b, c)
				trips.Reset()
				for b.Loop() {
					if err := k.read(n); err != nil {
						b.Fatal(err)
					}
				}
				_, cmds := trips.Count()
				b.ReportMetric(float64(len(cmds))/float64(b.N), "cmds/op")
				b.ReportMetric(float64(redisCPU(b, c)-cpu0)/float64(time.Microsecond)/float64(b.N), "redis-µs/op")
			})
		}
	}
}

// redisCPU is the CPU time the server has used (user + system).
func redisCPU(b *testing.B, c *redis.Client) time.Duration {
	info, err := c.Info(context.Background(), "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	var sum float64
	for _, line := range strings.Split(info, "\n") {
		name, v, _ := strings.Cut(strings.TrimSpace(line), ":")
		if name == "used_cpu_user" || name == "used_cpu_sys" {
			s, _ := strconv.ParseFloat(v, 64)
			sum += s
		}
	}
	return time.Duration(sum * float64(time.Second))
}
