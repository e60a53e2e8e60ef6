package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/store/redistest"
	"jobwait/store/storetest"
	"jobwait/stream/streamtest"
)

// answersThreeWays checks that the replicas in rs answer long polls and
// streams woken by completions written through p, and a short poll of a
// completed job.
func answersThreeWays(t *testing.T, rs []*rig, p *storetest.Producer) {
	t.Helper()
	answeredOnEveryReplica(t, rs, p)
	j := p.Jobs(t, 1)[0]
	err := p.Complete(context.Background(), j)
	require.NoError(t, err)
	for _, r := range rs {
		code, _, body, err := getJSON(r.http, statusURL(r.jw.URL(), j.JobID))
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, code)
		assert.Equal(t, "COMPLETED", body["status"])
		code, _, body, err = getJSON(r.http, r.jw.URL()+"/readyz")
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, code)
		assert.Equal(t, "keyspace", body["notify"])
	}
}

// startFails runs jobwait in-process with env and returns the error it
// stops with at start, which must come within a few seconds: a TLS setting
// that cannot work is told at once, never waited on.
func startFails(t *testing.T, env map[string]string) error {
	t.Helper()
	env["JOBWAIT_ADDR"] = "127.0.0.1:0"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	var log bytes.Buffer
	err := run(ctx, nil, envOf(env), io.Discard, &log)
	require.Error(t, err, "jobwait started: %s", log.String())
	assert.Less(t, time.Since(start), 5*time.Second, "told at start, not after a wait")
	return err
}

// TestRedisTLS runs jobwait over rediss:// on a single node with the
// test's CA, then with client certificates required (mutual TLS), on
// Sentinel (sentinels and data nodes over TLS) and on a Cluster with TLS
// between its nodes too. A wrong CA, a missing client certificate, a CA
// file that is none and verification turned off in the URL stop jobwait at
// start with a message saying what is wrong, and so does a rediss:// URL
// that names a plain-text port.
func TestRedisTLS(t *testing.T) {
	t.Parallel()
	certs := redistest.NewTLS(t)
	ca := "JOBWAIT_REDIS_CA=" + certs.CA

	t.Run("single", func(t *testing.T) {
		srv, url := redistest.StartTLS(t, certs, false)
		rs := startReplicas(t, []string{url}, ca)
		answersThreeWays(t, rs, storetest.NewProducer(srv.Client(t), "rep"))
	})

	t.Run("mutual", func(t *testing.T) {
		srv, url := redistest.StartTLS(t, certs, true)
		rs := startReplicas(t, []string{url}, ca, "JOBWAIT_REDIS_CERT="+certs.ClientCert, "JOBWAIT_REDIS_KEY="+certs.ClientKey)
		answersThreeWays(t, rs, storetest.NewProducer(srv.Client(t), "rep"))

		err := startFails(t, map[string]string{"REDIS_URL": url, "JOBWAIT_REDIS_CA": certs.CA})
		assert.ErrorContains(t, err, "refused jobwait's TLS handshake")
		err = startFails(t, map[string]string{"REDIS_URL": url, "JOBWAIT_REDIS_CA": certs.CA,
			"JOBWAIT_REDIS_CERT": certs.OtherCert, "JOBWAIT_REDIS_KEY": certs.OtherKey})
		assert.ErrorContains(t, err, "refused jobwait's TLS handshake")
	})

	t.Run("wrong", func(t *testing.T) {
		srv, url := redistest.StartTLS(t, certs, false)
		err := startFails(t, map[string]string{"REDIS_URL": url, "JOBWAIT_REDIS_CA": certs.OtherCA})
		assert.ErrorContains(t, err, "certificate does not verify")
		assert.ErrorContains(t, err, "check JOBWAIT_REDIS_CA")
		err = startFails(t, map[string]string{"REDIS_URL": url}) // the system's roots know no test CA
		assert.ErrorContains(t, err, "certificate does not verify")
		// A plain-text port says nothing to a TLS handshake (or, when the
		// handshake happens to hold a newline, an error that is no TLS).
		plain := strings.Replace(srv.URL(), "redis://", "rediss://", 1)
		err = startFails(t, map[string]string{"REDIS_URL": plain, "JOBWAIT_REDIS_CA": certs.CA})
		assert.ErrorContains(t, err, "plain-text Redis port")
		err = startFails(t, map[string]string{"REDIS_URL": url + "?skip_verify=true"})
		assert.ErrorContains(t, err, "skip_verify")
		err = startFails(t, map[string]string{"REDIS_URL": srv.URL(), "JOBWAIT_REDIS_CA": certs.CA})
		assert.ErrorContains(t, err, "use rediss://")
		err = startFails(t, map[string]string{"REDIS_URL": url, "JOBWAIT_REDIS_CA": certs.ClientKey})
		assert.ErrorContains(t, err, "JOBWAIT_REDIS_CA")
		err = startFails(t, map[string]string{"REDIS_URL": url, "JOBWAIT_REDIS_CERT": certs.ClientCert})
		assert.ErrorContains(t, err, "set both, or neither")
	})

	t.Run("sentinel", func(t *testing.T) {
		sn := redistest.StartSentinelTLS(t, certs)
		rs := startReplicas(t, []string{sn.TLSURL()}, ca)
		answersThreeWays(t, rs, storetest.NewProducer(sn.Client(t), "rep"))
		err := startFails(t, map[string]string{"REDIS_URL": sn.TLSURL(), "JOBWAIT_REDIS_CA": certs.OtherCA})
		assert.ErrorContains(t, err, "certificate does not verify")
	})

	t.Run("cluster", func(t *testing.T) {
		c := redistest.StartClusterTLS(t, certs)
		rs := startReplicas(t, []string{c.TLSURL()}, ca)
		assert.Contains(t, rs[0].jw.Log(), "following the cluster")
		answersThreeWays(t, rs, storetest.NewProducer(c.Client(t), "rep"))
		err := startFails(t, map[string]string{"REDIS_URL": c.TLSURL(), "JOBWAIT_REDIS_CA": certs.OtherCA})
		assert.ErrorContains(t, err, "certificate does not verify")
	})
}

// TestRedisTLSCertificateFailsWhileRunning: the server's certificate is
// replaced, while jobwait runs, by one signed by a CA jobwait does not
// trust, and jobwait's connections are cut: the log and /readyz say that
// the certificate does not verify, not that the connection was closed
// (EOF); once the right certificate is back, jobwait is ready again.
func TestRedisTLSCertificateFailsWhileRunning(t *testing.T) {
	t.Parallel()
	certs := redistest.NewTLS(t)
	srv, url := redistest.StartTLS(t, certs, false)
	rs := startReplicas(t, []string{url}, "JOBWAIT_REDIS_CA="+certs.CA)
	r := rs[0]
	admin := srv.Client(t) // on the plain-text port
	ctx := context.Background()
	swap := func(cert, key string) {
		require.NoError(t, admin.Do(ctx, "CONFIG", "SET", "tls-cert-file", cert, "tls-key-file", key).Err())
		for _, kind := range []string{"normal", "pubsub"} {
			require.NoError(t, admin.Do(ctx, "CLIENT", "KILL", "TYPE", kind, "SKIPME", "yes").Err())
		}
	}
	swap(certs.OtherCert, certs.OtherKey)
	body := r.awaitReady(t, http.StatusServiceUnavailable, "unavailable", "")
	streamtest.Eventually(t, readyWithin, "/readyz saying the certificate does not verify", func() bool {
		_, body = r.readyBody(t)
		return strings.Contains(fmt.Sprint(body["reason"]), "certificate does not verify")
	})
	assert.Contains(t, body["reason"], "x509: certificate signed by unknown authority")
	streamtest.Eventually(t, 5*time.Second, "the log saying the TLS certificate does not verify", func() bool {
		return strings.Contains(r.jw.Log(), "TLS certificate does not verify")
	})

	swap(certs.ServerCert, certs.ServerKey)
	r.awaitReady(t, http.StatusOK, "ok", "")
	streamtest.Eventually(t, 5*time.Second, "the log saying redis answers again", func() bool {
		return strings.Contains(r.jw.Log(), "redis answers jobwait's checks again")
	})
}
