package auth_test

import (
	"context"
	"testing"
	"time"

	"jobwait/server/auth"
	"jobwait/server/auth/authtest"
)

// The cost of one request's check: parse, verify the signature, validate
// the claims and the job ids. go test -run XXX -bench Check -benchmem ./server/auth/
// cpu-ns/op is the process's CPU time per check (GC included): on a busy
// machine ns/op also counts the time spent waiting for a core.
func BenchmarkCheckHS256(b *testing.B) {
	benchCheck(b, newSecret(b, auth.Required), authtest.HS256(secret))
}

func BenchmarkCheckES256(b *testing.B) { benchKeySet(b, authtest.ES256(kidES)) }

func BenchmarkCheckEdDSA(b *testing.B) { benchKeySet(b, authtest.EdDSA(kidED)) }

func BenchmarkCheckRS256(b *testing.B) { benchKeySet(b, authtest.RS256(kidRS)) }

func benchKeySet(b *testing.B, k authtest.Key) {
	benchCheck(b, newKeySet(b, authtest.StartJWKS(b, keySet()...), nil), k)
}

func benchCheck(b *testing.B, v *auth.Verifier, k authtest.Key) {
	now := time.Now()
	c := with(claims("job-a", "job-b"), func(c *authtest.Claims) { c.IssuedAt, c.Expiry = now, now.Add(5*time.Minute) })
	tok := authtest.Sign(b, k, c)
	ids := []string{"job-b"}
	if _, err := v.Check(context.Background(), tok, ids, now); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	cpu0, ok := cpuTime()
	for b.Loop() {
		if _, err := v.Check(context.Background(), tok, ids, now); err != nil {
			b.Fatal(err)
		}
	}
	if cpu1, _ := cpuTime(); ok {
		b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
	}
}
