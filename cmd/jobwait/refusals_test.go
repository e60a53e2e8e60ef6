package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/server/servertest"
	"jobwait/server/sse"
	"jobwait/store"
	"jobwait/store/redistest"
	"jobwait/store/storetest"
	"jobwait/stream/streamtest"
)

// rejections is what one Redis node says it rejected: its ACL LOG's
// entries and INFO errorstats.
type rejections struct {
	acl    []string
	errors string
}

// rejected reads node's rejections. The test's own clients are quiet
// (redistest.Quiet), so that every error counted is jobwait's.
func rejected(t *testing.T, node *redis.Client) rejections {
	t.Helper()
	ctx := context.Background()
	entries, err := node.ACLLog(ctx, 100).Result()
	require.NoError(t, err)
	var r rejections
	for _, e := range entries {
		r.acl = append(r.acl, e.Username+": "+e.Reason+" "+e.Object+" ("+e.Context+")")
	}
	// A sentinel has no errorstats section: its error replies are counted
	// in stats only.
	stats, err := node.Info(ctx, "errorstats", "stats").Result()
	require.NoError(t, err)
	errorstats := strings.Contains(stats, "# Errorstats")
	var counts []string
	for _, l := range strings.Fields(stats) {
		if strings.HasPrefix(l, "errorstat_") || !errorstats && strings.HasPrefix(l, "total_error_replies:") {
			counts = append(counts, l)
		}
	}
	r.errors = strings.Join(counts, " ")
	return r
}

// rejectsNothing records each node's rejections now and, when the test
// ends, checks that none was added meanwhile: no refusal in ACL LOG, no
// error in INFO errorstats.
func rejectsNothing(t *testing.T, nodes ...*redistest.Server) { rejectsOnly(t, "", nodes...) }

// rejectsOnly is rejectsNothing, save for errors of the kind kind ("": none)
// in INFO errorstats.
func rejectsOnly(t *testing.T, kind string, nodes ...*redistest.Server) {
	t.Helper()
	clients := make([]*redis.Client, len(nodes))
	for i, n := range nodes {
		clients[i] = n.Client(t)
	}
	rejectNothingAt(t, kind, clients...)
}

// rejectNothingAt is rejectsOnly for the nodes (or sentinels) that clients
// reach; the clients must be quiet.
func rejectNothingAt(t *testing.T, kind string, clients ...*redis.Client) {
	t.Helper()
	before := make([]rejections, len(clients))
	for i, c := range clients {
		require.NoError(t, c.Do(context.Background(), "ACL", "LOG", "RESET").Err())
		before[i] = rejected(t, c)
	}
	t.Cleanup(func() {
		for i, c := range clients {
			after := rejected(t, c)
			assert.Empty(t, after.acl, "ACL LOG of %s", c.Options().Addr)
			assert.Equal(t, without(before[i].errors, kind), without(after.errors, kind), "INFO errorstats of %s", c.Options().Addr)
		}
	})
}

// without is INFO errorstats less the line of errors of kind kind.
func without(stats, kind string) string {
	var keep []string
	for _, l := range strings.Fields(stats) {
		if kind == "" || !strings.HasPrefix(l, "errorstat_"+kind+":") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, " ")
}

// everyWait waits for jobs every way jobwait offers, on r, while p (and
// admin, for a job written as a hash) completes or fails them: a short
// poll, a long poll, a stream, the many-job stream and the many-job long
// poll. Each gets its job's final state. One job is written as a hash
// (HSET), as Spring's hash mapping does, when hash is set.
func everyWait(t *testing.T, r *rig, p *storetest.Producer, admin redis.Cmdable, hash bool) {
	t.Helper()
	ctx := context.Background()
	jobs := p.Jobs(t, 7)
	last := jobs[6]
	if hash { // written again, as a hash
		require.NoError(t, admin.Del(ctx, store.JobKey(last.JobID)).Err())
		require.NoError(t, admin.HSet(ctx, store.JobKey(last.JobID), "jobId", last.JobID, "status", "PENDING", "eventDraftId", last.EventDraftID).Err())
	}
	ids := func(js ...string) string { return strings.Join(js, ",") }

	type result struct {
		what   string
		finals map[string]string // job id -> final status or event
	}
	var w streamtest.Group[result]
	w.Go(func() result {
		o := r.longPoll(jobs[1].JobID, "20", replicaBudget)
		return result{"long poll", map[string]string{jobs[1].JobID: o.status}}
	})
	w.Go(func() result {
		o := r.sse(jobs[2].JobID, replicaBudget, nil)
		return result{"stream", map[string]string{jobs[2].JobID: o.event}}
	})
	w.Go(func() result {
		finals := map[string]string{}
		resp, err := r.http.Get(r.jw.URL() + "/api/events/jobs/stream?ids=" + ids(jobs[3].JobID, jobs[4].JobID))
		if !assert.NoError(t, err) {
			return result{"many-job stream", finals}
		}
		defer resp.Body.Close()
		events := sse.NewReader(resp.Body)
		for {
			ev, err := events.Next()
			if err != nil {
				return result{"many-job stream", finals}
			}
			if ev.Type != "status" {
				var b struct{ JobID string }
				if assert.NoError(t, json.Unmarshal([]byte(ev.Data), &b)) {
					finals[b.JobID] = ev.Type
				}
			}
		}
	})
	w.Go(func() result {
		finals := map[string]string{}
		resp, err := r.http.Get(r.jw.URL() + "/api/events/jobs/status?wait=20&ids=" + ids(jobs[5].JobID, last.JobID))
		if !assert.NoError(t, err) {
			return result{"many-job long poll", finals}
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		var b struct {
			Jobs []struct{ JobID, Status string }
		}
		assert.NoError(t, json.Unmarshal(data, &b), "%s", data)
		for _, j := range b.Jobs {
			finals[j.JobID] = j.Status
		}
		return result{"many-job long poll", finals}
	})
	streamtest.Eventually(t, 10*time.Second, "every wait held", func() bool { return heldWaiters(r.jw.URL()) >= 4 })
	// What jobwait sends while waits are held (the safety re-reads, the
	// checks of notify-keyspace-events) is sent too.
	streamtest.Eventually(t, 10*time.Second, "a safety re-read", func() bool {
		return servertest.Metric(r.jw.URL(), "jobwait_hub_safety_reads_total") > 0
	})

	for _, j := range []store.Job{jobs[0], jobs[1], jobs[2], jobs[3]} {
		require.NoError(t, p.Complete(ctx, j))
	}
	p.Fail(t, jobs[4], "boom")
	if hash {
		require.NoError(t, p.Store.PutResult(ctx, last, store.SampleResult(last.EventDraftID)))
		require.NoError(t, admin.HSet(ctx, store.JobKey(last.JobID), "status", "COMPLETED").Err())
	} else {
		require.NoError(t, p.Complete(ctx, last))
	}

	want := map[string]map[string]string{
		"long poll":          {jobs[1].JobID: "COMPLETED"},
		"stream":             {jobs[2].JobID: "completed"},
		"many-job stream":    {jobs[3].JobID: "completed", jobs[4].JobID: "failed"},
		"many-job long poll": {jobs[5].JobID: "PENDING", last.JobID: "COMPLETED"},
	}
	for _, res := range w.Wait(t, replicaBudget) {
		assert.Equal(t, want[res.what], res.finals, res.what)
	}
	for _, id := range []string{jobs[0].JobID, last.JobID} {
		code, _, body, err := getJSON(r.http, statusURL(r.jw.URL(), id))
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, code, "short poll of %s", id)
		assert.Equal(t, "COMPLETED", body["status"], "short poll of %s", id)
	}
}

// TestReadmeUserRejectedNothing runs jobwait as exactly README's ACL user
// (its line read out of README.md), flags preset and JOBWAIT_NOTIFY=keyspace
// as README says, then with README's CONFIG rules and
// JOBWAIT_NOTIFY=auto: every kind of wait is answered, /readyz is ok with
// nothing missing, and Redis rejected nothing, neither a command (ACL LOG)
// nor anything else (INFO errorstats), from start to stop. A job written
// as a hash costs a WRONGTYPE answer per read (jobwait reads a job with
// GET first, and a hash then with HGETALL), and nothing else.
func TestReadmeUserRejectedNothing(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, "--notify-keyspace-events", "Kg$hxe")
	words := readmeACL(t)
	for _, tc := range []struct {
		name string
		more []string
		env  string
	}{
		{"keyspace", nil, "JOBWAIT_NOTIFY=keyspace"},
		{"auto", readmeConfigACL(t), "JOBWAIT_NOTIFY=auto"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := setUser(t, srv, "jobwait-"+tc.name, append(words, tc.more...))
			admin := srv.Client(t)
			rejectsNothing(t, srv)
			rs := startReplicas(t, []string{url}, tc.env, "JOBWAIT_RESYNC=200ms")
			everyWait(t, rs[0], storetest.NewProducer(admin, "acl"), admin, false)
			code, _, body, err := getJSON(rs[0].http, rs[0].jw.URL()+"/readyz")
			require.NoError(t, err)
			assert.Equal(t, http.StatusOK, code)
			assert.Equal(t, "ok", body["status"], "%v", body)
			assert.Nil(t, body["missing"])
			assert.NotContains(t, rs[0].jw.Log(), "redis permission missing")
		})
	}
	t.Run("hash", func(t *testing.T) {
		url := setUser(t, srv, "jobwait-hash", words)
		admin := srv.Client(t)
		rejectsOnly(t, "WRONGTYPE", srv)
		rs := startReplicas(t, []string{url}, "JOBWAIT_NOTIFY=keyspace", "JOBWAIT_RESYNC=200ms")
		everyWait(t, rs[0], storetest.NewProducer(admin, "acl"), admin, true)
	})
}

// TestReadmeUsersOnSentinel runs jobwait on Sentinel as README's users:
// the data nodes' (its ACL line, on every data node: ACL users are not
// replicated) and the sentinels' (README's Sentinel rules): every kind of
// wait is answered, and neither a data node nor a sentinel rejected
// anything.
func TestReadmeUsersOnSentinel(t *testing.T) {
	t.Parallel()
	sn := redistest.StartSentinel(t, redistest.SentinelPasswords{})
	ctx := context.Background()
	var clients []*redis.Client
	for _, n := range sn.Data {
		require.NoError(t, n.Client(t).ConfigSet(ctx, "notify-keyspace-events", "Kg$hxe").Err())
		setUser(t, n, "jobwait", readmeACL(t))
		clients = append(clients, n.Client(t))
	}
	rules := readmeSentinelACL(t)
	for _, s := range sn.Sentinels {
		c := redis.NewClient(&redis.Options{Addr: s.Addr(), DisableIdentity: true, MaintNotificationsConfig: redistest.Quiet()})
		t.Cleanup(func() { c.Close() })
		args := []any{"ACL", "SETUSER", "jobwait-sentinel", "on", ">secret", "resetchannels", "-@all"}
		for _, r := range rules {
			args = append(args, r)
		}
		require.NoError(t, c.Do(ctx, args...).Err(), "%v", args)
		clients = append(clients, c)
	}
	rejectNothingAt(t, "", clients...)
	url := strings.Replace(sn.URL(), "redis://", "redis://jobwait-sentinel:secret@", 1) + "&username=jobwait&password=secret"
	rs := startReplicas(t, []string{url}, "JOBWAIT_NOTIFY=keyspace", "JOBWAIT_RESYNC=200ms")
	admin := sn.Client(t)
	everyWait(t, rs[0], storetest.NewProducer(admin, "sen"), admin, false)
	assert.NotContains(t, rs[0].jw.Log(), "redis permission missing")
}

// readmeSentinelACL is the documented rules and channels for a Sentinel's
// own ACL user (docs/production.md).
func readmeSentinelACL(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("../../docs/production.md")
	require.NoError(t, err)
	text := string(data)
	i := strings.Index(text, "A Sentinel's own ACL user")
	require.GreaterOrEqual(t, i, 0, "docs/production.md says what a Sentinel's own ACL user needs")
	para, _, _ := strings.Cut(text[i:], "\n\n")
	var rules []string
	for j, part := range strings.Split(para, "`") {
		if j%2 == 1 {
			rules = append(rules, strings.Fields(part)...)
		}
	}
	return rules[1:] // after user:pass@
}
