package main

import (
	"context"
	"net/http"
	"os"
	"strconv"
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

// readmeACL is the documented ACL SETUSER line for jobwait (docs/production.md), split into words.
func readmeACL(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("../../docs/production.md")
	require.NoError(t, err)
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "ACL SETUSER jobwait ") {
			return strings.Fields(line)
		}
	}
	t.Fatal("docs/production.md has no line starting ACL SETUSER jobwait")
	return nil
}

// setUser runs an ACL SETUSER line (words), for user name with password
// secret in place of the README's placeholder.
func setUser(t *testing.T, srv *redistest.Server, name string, words []string) string {
	t.Helper()
	args := []any{"ACL", "SETUSER", name}
	for _, w := range words[3:] {
		if w == ">CHANGE-ME" {
			w = ">secret"
		}
		args = append(args, w)
	}
	require.NoError(t, srv.Client(t).Do(context.Background(), args...).Err(), "%v", args)
	return "redis://" + name + ":secret@" + srv.Addr() + "/0"
}

// TestLeastPrivilegeUser runs jobwait as exactly README's ACL user, with
// notify-keyspace-events preset and JOBWAIT_NOTIFY=keyspace as README
// says: it answers the three ways to wait and nothing is missing. With
// JOBWAIT_NOTIFY=auto, which manages the flags with CONFIG, it says at
// start that CONFIG GET is refused and what that costs (it polls); with
// README's CONFIG rules added nothing is missing. With any one rule taken
// away, it names the permission that is missing.
func TestLeastPrivilegeUser(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, "--notify-keyspace-events", "Kg$hxe")
	words := readmeACL(t)
	p := storetest.NewProducer(srv.Client(t), "rep")

	url := setUser(t, srv, "jobwait", words)
	rs := startReplicas(t, []string{url}, "JOBWAIT_NOTIFY=keyspace")
	answersThreeWays(t, rs, p)
	assert.NotContains(t, rs[0].jw.Log(), "redis permission missing")

	rs = startReplicas(t, []string{url})
	streamtest.Eventually(t, 10*time.Second, "saying CONFIG GET is missing", func() bool {
		return strings.Contains(rs[0].jw.Log(), `"permission":"CONFIG GET notify-keyspace-events"`)
	})
	log := rs[0].jw.Log()
	code, _, body, err := getJSON(rs[0].http, rs[0].jw.URL()+"/readyz")
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "poll", body["notify"])
	assert.Equal(t, "ok", body["status"])
	assert.Len(t, body["missing"], 1, "%v\n%s", body, log)

	url = setUser(t, srv, "jobwait-config", append(words, readmeConfigACL(t)...))
	rs = startReplicas(t, []string{url})
	answersThreeWays(t, rs, p)
	assert.NotContains(t, rs[0].jw.Log(), "redis permission missing")

	// Each rule, and the permission jobwait then says is missing.
	says := map[string]string{
		"%R~job:*":               "GET on job:*",
		"%R~ai:recommendation:*": "GET on ai:recommendation:*",
		"&__keyspace@0__:job:*":  "SUBSCRIBE on __keyspace@0__:job:*",
		"+get":                   "GET on job:*",
		"+mget":                  "MGET on job:*, job:*:error and ai:recommendation:*",
		"+pttl":                  "PTTL on job:*",
		"+hgetall":               "HGETALL on job:*",
		"+ping":                  "PING",
		"+subscribe":             "SUBSCRIBE on __keyspace@0__:job:*",
		"+unsubscribe":           "UNSUBSCRIBE",
	}
	for i, w := range words {
		if i < 3 || !strings.HasPrefix(w, "+") && !strings.HasPrefix(w, "%") && !strings.HasPrefix(w, "&") {
			continue
		}
		want, ok := says[w]
		require.True(t, ok, "README's ACL line has a rule %q this test does not know", w)
		t.Run(w, func(t *testing.T) {
			less := append(append([]string(nil), words[:i]...), words[i+1:]...)
			url := setUser(t, srv, "jobwait-less-"+strconv.Itoa(i), less)
			jw := servertest.Start(t, "REDIS_URL="+url, "JOBWAIT_DEMO=false", "JOBWAIT_NOTIFY=keyspace")
			streamtest.Eventually(t, 10*time.Second, "saying "+want+" is missing", func() bool {
				return strings.Contains(jw.Log(), `"permission":"`+want+`"`)
			})
		})
	}
}

// readmeClusterACL is the rules README adds to the ACL line on a Cluster.
func readmeClusterACL(t *testing.T) []string { return readmeRules(t, "+cluster") }

// readmeConfigACL is the rules README adds to the ACL line for
// JOBWAIT_NOTIFY=auto.
func readmeConfigACL(t *testing.T) []string { return readmeRules(t, "+config") }

// readmeRules is the rules of the row of README's table of ACL rules to
// add whose first rule starts with first.
func readmeRules(t *testing.T, first string) []string {
	t.Helper()
	data, err := os.ReadFile("../../docs/production.md")
	require.NoError(t, err)
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "| `"+first) {
			cell := strings.Split(line, "`")[1]
			return strings.Fields(strings.ReplaceAll(cell, `\|`, "|"))
		}
	}
	t.Fatalf("docs/production.md has no row of ACL rules starting %s", first)
	return nil
}

// TestLeastPrivilegeUserOnCluster runs jobwait on a Redis Cluster as
// README's user with the Cluster rules added (on every node: ACL users are
// not shared by a cluster's nodes), flags preset as on a managed cluster:
// it follows the cluster, answers every kind of wait, nothing is missing,
// and no node rejected anything (ACL LOG, INFO errorstats).
func TestLeastPrivilegeUserOnCluster(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t)
	words := append(readmeACL(t), readmeClusterACL(t)...)
	ctx := context.Background()
	for _, n := range c.Nodes {
		require.NoError(t, n.Client(t).ConfigSet(ctx, "notify-keyspace-events", "Kg$hxe").Err())
		setUser(t, n, "jobwait", words)
	}
	rejectsNothing(t, c.Nodes...)
	url := "redis://jobwait:secret@" + c.Nodes[0].Addr() + "/0" // told a cluster by HELLO
	rs := startReplicas(t, []string{url}, "JOBWAIT_NOTIFY=keyspace", "JOBWAIT_RESYNC=200ms")
	assert.Contains(t, rs[0].jw.Log(), "following the cluster")
	admin := c.Client(t)
	everyWait(t, rs[0], storetest.NewProducer(admin, "rep"), admin, false)
	assert.NotContains(t, rs[0].jw.Log(), "redis permission missing")
}

// TestSubscribePermissionRevokedWhileRunning: an ACL change that takes the
// subscription's permission away from a running jobwait is named in its
// log as the subscription is refused, not only as a lost connection;
// meanwhile the watched jobs are polled, so held waiters still get their
// results (the safety re-read, an hour away here, does not); and once the
// permission is back, the subscription is live again.
func TestSubscribePermissionRevokedWhileRunning(t *testing.T) {
	t.Parallel()
	const budget = 15 * time.Second
	srv := redistest.Start(t, "--notify-keyspace-events", "Kg$hxe")
	url := setUser(t, srv, "jobwait", readmeACL(t))
	jw := servertest.Start(t, "REDIS_URL="+url, "JOBWAIT_DEMO=false", "JOBWAIT_NOTIFY=keyspace",
		"JOBWAIT_RESYNC=1h", "JOBWAIT_WAIT_BUDGET="+budget.String())
	streamtest.Eventually(t, 10*time.Second, "subscribed", func() bool {
		return strings.Contains(jw.Log(), "keyspace subscription live")
	})
	admin := srv.Client(t)
	ctx := context.Background()
	require.NoError(t, admin.Do(ctx, "ACL", "SETUSER", "jobwait", "-subscribe").Err())
	require.NoError(t, admin.Do(ctx, "CLIENT", "KILL", "TYPE", "pubsub").Err())
	streamtest.Eventually(t, 10*time.Second, "the refusal named", func() bool {
		log := jw.Log()
		return strings.Contains(log, "keyspace subscription refused") && strings.Contains(log, "NOPERM")
	})
	assert.Equal(t, 1, strings.Count(jw.Log(), "keyspace subscription refused"), "once per refusal, not per retry")

	r := &rig{redis: srv, rdb: admin, jobs: storetest.NewProducer(admin, "acl"), jw: jw, http: newHTTPClient(t)}
	jobs := r.jobs.Jobs(t, 4)
	var w streamtest.Group[outcome]
	r.holdMix(t, &w, jobs, budget)
	for _, j := range jobs {
		require.NoError(t, r.jobs.Complete(ctx, j))
	}
	assertAllCompleted(t, w.Wait(t, budget+slack))
	assert.Equal(t, 1, strings.Count(jw.Log(), "keyspace subscription live"), "answered while the subscription was refused")

	require.NoError(t, admin.Do(ctx, "ACL", "SETUSER", "jobwait", "+subscribe").Err())
	streamtest.Eventually(t, 10*time.Second, "live again", func() bool {
		return strings.Count(jw.Log(), "keyspace subscription live") >= 2
	})
}
