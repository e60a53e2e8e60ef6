package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/server/servertest"
	"jobwait/store/redistest"
	"jobwait/store/storetest"
	"jobwait/stream/streamtest"
)

// readyWithin bounds how long /readyz may take to follow a fault or its
// repair: jobwait checks every second, within 2 s.
const readyWithin = 10 * time.Second

// readyBody is /readyz's status code and body.
func (r *rig) readyBody(t *testing.T) (int, map[string]any) {
	t.Helper()
	code, _, body, err := getJSON(r.http, r.jw.URL()+"/readyz")
	require.NoError(t, err)
	return code, body
}

// awaitReady waits until /readyz answers code with status and, unless
// named is "", names that permission first among those missing; it
// returns the body.
func (r *rig) awaitReady(t *testing.T, code int, status, named string) map[string]any {
	t.Helper()
	var body map[string]any
	streamtest.Eventually(t, readyWithin, "/readyz "+status+" naming "+named, func() bool {
		var c int
		c, body = r.readyBody(t)
		missing, _ := body["missing"].([]any)
		return c == code && body["status"] == status &&
			(named == "" || len(missing) > 0 && strings.HasPrefix(missing[0].(string), named+":"))
	})
	return body
}

// TestReadinessFollowsPermissions takes permissions away from README's
// ACL user while jobwait runs, one at a time, and gives them back: /readyz
// turns red for a read that requests need (GET) or the subscription
// (SUBSCRIBE), with the reason, stays green for one with a fallback
// (MGET, CONFIG GET under JOBWAIT_NOTIFY=auto), names each with what it
// costs, and is green with nothing missing once it is back; a request that meets a refused read is answered
// SVC_002 saying Redis refused jobwait's command, not that it is
// unreachable.
func TestReadinessFollowsPermissions(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, "--notify-keyspace-events", "Kg$hxe")
	admin := srv.Client(t)
	ctx := context.Background()
	words := readmeACL(t)
	for _, tc := range []struct {
		mode   string
		more   []string
		revoke string // the rule taken away
		code   int
		status string
		named  string // the permission /readyz names
		kill   bool   // the subscription is cut, as an ACL change does not
	}{
		{"keyspace", nil, "-get", http.StatusServiceUnavailable, "unavailable", "GET on job:*", false},
		{"keyspace", nil, "-mget", http.StatusOK, "ok", "MGET on job:*, job:*:error and ai:recommendation:*", false},
		{"keyspace", nil, "-subscribe", http.StatusServiceUnavailable, "unavailable", "SUBSCRIBE on __keyspace@0__:job:*", true},
		{"auto", readmeConfigACL(t), "-config|get", http.StatusOK, "ok", "CONFIG GET notify-keyspace-events", false},
	} {
		t.Run(tc.mode+tc.revoke, func(t *testing.T) {
			user := "jobwait" + strings.NewReplacer("-", "", "|", "").Replace(tc.mode+tc.revoke)
			url := setUser(t, srv, user, append(words, tc.more...))
			rs := startReplicas(t, []string{url}, "JOBWAIT_NOTIFY="+tc.mode)
			r := rs[0]
			p := storetest.NewProducer(admin, "ready")
			r.awaitReady(t, http.StatusOK, "ok", "")

			require.NoError(t, admin.Do(ctx, "ACL", "SETUSER", user, tc.revoke).Err())
			if tc.kill {
				require.NoError(t, admin.Do(ctx, "CLIENT", "KILL", "USER", user).Err())
			}
			body := r.awaitReady(t, tc.code, tc.status, tc.named)
			assert.Equal(t, tc.code != http.StatusOK, body["reason"] != nil, "a reason when not ok: %v", body)
			ready := 0.0
			if tc.code == http.StatusOK {
				ready = 1
			}
			assert.Equal(t, ready, servertest.Metric(r.jw.URL(), "jobwait_ready"), "jobwait_ready says what /readyz says")
			assert.Contains(t, r.jw.Log(), `"permission":"`+tc.named+`"`)

			j := p.Jobs(t, 1)[0]
			code, _, answer, err := getJSON(r.http, statusURL(r.jw.URL(), j.JobID))
			require.NoError(t, err)
			if tc.code == http.StatusOK {
				assert.Equal(t, http.StatusOK, code, "served at a cost: %v", answer)
			} else if tc.revoke == "-get" {
				assert.Equal(t, http.StatusServiceUnavailable, code)
				assert.Equal(t, "SVC_002", answer["code"])
				assert.Equal(t, "Redis가 jobwait의 명령을 거부했습니다(권한 설정). 잠시 후 다시 시도해주세요", answer["message"])
			}

			require.NoError(t, admin.Do(ctx, "ACL", "SETUSER", user, "+"+tc.revoke[1:]).Err())
			streamtest.Eventually(t, readyWithin, "/readyz ok, nothing missing", func() bool {
				code, body := r.readyBody(t)
				return code == http.StatusOK && body["status"] == "ok" && body["missing"] == nil
			})
			assert.Contains(t, r.jw.Log(), "redis permission granted again")
			answersThreeWays(t, rs, p)
		})
	}
}

// TestCredentialsRefusedUnderWaiters: Redis refuses jobwait's credentials
// while waits are held (its password rotated, the connections cut). No
// held wait is answered with a state nobody wrote: each stays held while
// /readyz says why, and once the password is back every waiter gets its
// job's result.
func TestCredentialsRefusedUnderWaiters(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, "--notify-keyspace-events", "Kg$hxe")
	admin := srv.Client(t)
	ctx := context.Background()
	url := setUser(t, srv, "rotated", readmeACL(t))
	const budget = 20 * time.Second
	r := &rig{redis: srv, rdb: admin, jobs: storetest.NewProducer(admin, "rot"), http: newHTTPClient(t),
		jw: servertest.Start(t, "REDIS_URL="+url, "JOBWAIT_DEMO=false", "JOBWAIT_NOTIFY=keyspace",
			"JOBWAIT_WAIT_BUDGET="+budget.String(), "JOBWAIT_MAX_CONNS_PER_IP=1000000000")}
	r.jw.WaitReady(t, 10*time.Second)
	jobs := r.jobs.Jobs(t, 6)
	var w streamtest.Group[outcome]
	r.holdMix(t, &w, jobs, budget)

	require.NoError(t, admin.Do(ctx, "ACL", "SETUSER", "rotated", "resetpass", ">other").Err())
	require.NoError(t, admin.Do(ctx, "CLIENT", "KILL", "USER", "rotated").Err())
	streamtest.Eventually(t, readyWithin, "/readyz 503 saying Redis refuses the credentials", func() bool {
		code, body := r.readyBody(t)
		reason, _ := body["reason"].(string)
		return code == http.StatusServiceUnavailable && strings.Contains(reason, "credentials")
	})
	errs := servertest.Metric(r.jw.URL(), "jobwait_hub_read_errors_total")
	streamtest.Eventually(t, readyWithin, "the hub's reads refused", func() bool {
		return servertest.Metric(r.jw.URL(), "jobwait_hub_read_errors_total") > errs
	})
	assert.Equal(t, len(jobs), heldWaiters(r.jw.URL()), "every wait still held while Redis refuses jobwait")

	require.NoError(t, admin.Do(ctx, "ACL", "SETUSER", "rotated", "resetpass", ">secret").Err())
	r.awaitReady(t, http.StatusOK, "ok", "")
	for _, j := range jobs {
		require.NoError(t, r.jobs.Complete(ctx, j))
	}
	for _, o := range w.Wait(t, budget+slack) {
		assert.NoError(t, o.err, "%s %s", o.kind, o.job)
		assert.Equal(t, "COMPLETED", o.status, "%s %s: %+v", o.kind, o.job, o)
	}
}
