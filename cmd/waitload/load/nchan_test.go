package load

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"jobwait/cmd/waitload/nchan"
	"jobwait/cmd/waitload/waiter"
	"jobwait/server/servertest"
	"jobwait/store/redistest"
)

// nchanInstallHint is what a test says when nginx or its Nchan module is missing.
const nchanInstallHint = "install them with `apt-get install -y nginx libnginx-mod-nchan` (or run `make test`, which does)"

// debianNchanModule is where Debian's libnginx-mod-nchan puts the module;
// $WAITLOAD_NCHAN_MODULE names another.
const debianNchanModule = "/usr/lib/nginx/modules/ngx_nchan_module.so"

// TestAgainstNchan runs waitload's Nchan target against a real nginx with
// the Nchan module, configured by nchan.conf as the bench uses it, on a
// private redis-server: every waiter of both modes must get its completion,
// through Redis. Speed is never asserted.
func TestAgainstNchan(t *testing.T) {
	if testing.Short() {
		t.Skip("runs nginx with Nchan and redis-server")
	}
	rs := redistest.Start(t)
	base := startNchan(t, rs.Addr())

	c := Config{
		Server: waiter.ServerNchan, Target: base, RedisURL: rs.URL(), Modes: []waiter.Mode{waiter.ModeSSE, waiter.ModeLongPoll},
		Waiters: 50, Jobs: 10, Rate: 200,
		Budget: testBudget, PollInterval: 2 * time.Second,
		Hold: 200 * time.Millisecond, Settle: 2 * time.Second, Timeout: 60 * time.Second,
		Sources: 2, Procs: 1, DialConcurrency: 16,
	}
	rep, err := Run(context.Background(), c)
	require.NoError(t, err)
	require.Len(t, rep.Modes, 2)
	assert.Equal(t, waiter.ServerNchan, rep.Server)
	assert.Equal(t, "nchan on redis", rep.Notify, "Nchan must keep its channels in the Redis under test")
	for i, m := range rep.Modes {
		name := string(m.Mode)
		assert.Equal(t, c.Modes[i], m.Mode)
		assert.Equal(t, c.Waiters, m.HeldPeak, "%s: held", name)
		assert.Equal(t, c.Waiters, m.Delivered, "%s: delivered (errors %v)", name, m.ErrorKinds)
		assert.Zero(t, m.Errors, "%s: errors %v", name, m.ErrorKinds)
		assert.Zero(t, m.Timeouts, "%s: timeouts", name)
		assert.Empty(t, m.Warnings, name)
		assert.Equal(t, c.Jobs, m.Completed, "%s: completed", name)
		assert.Equal(t, c.Waiters, m.Latency.Count, "%s: latencies", name)
		clocksOrdered(t, m)

		assert.Zero(t, m.Redis.Producer, "%s: the producer publishes over HTTP, not to Redis", name)
		assert.Positive(t, m.Redis.Commands, "%s: Nchan's Redis commands (nchan_redis_pass)", name)
		assert.Positive(t, m.Jobwait.RSSBaseline, "%s: nginx worker RSS", name)
		assert.GreaterOrEqual(t, m.Jobwait.RSSPeak, m.Jobwait.RSSBaseline, "%s: RSS peak", name)
		assert.Positive(t, m.Jobwait.WaitersPeak, "%s: Nchan's subscribers", name)
	}

	var table bytes.Buffer
	require.NoError(t, rep.WriteTable(&table))
	assert.Contains(t, table.String(), "waitload → nchan ")
}

// nchanConf fills nchan.conf's placeholders, as peerbench.sh does with sed.
func nchanConf(t *testing.T, module, prefix, listen, redisAddr string) string {
	t.Helper()
	tmpl, err := os.ReadFile("../nchan.conf")
	require.NoError(t, err)
	return strings.NewReplacer(
		"@MODULE@", module, "@PREFIX@", prefix, "@LISTEN@", listen, "@REDIS@", "redis://"+redisAddr,
	).Replace(string(tmpl))
}

// startNchan runs nginx with the Nchan module on a free loopback port, its
// channels in the Redis at redisAddr, and returns its base URL once
// nchan_stub_status shows Redis connected. nginx and its worker are stopped
// when the test ends.
func startNchan(t *testing.T, redisAddr string) string {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		bin = "/usr/sbin/nginx" // not on a non-root PATH
	}
	_, err = os.Stat(bin)
	require.NoError(t, err, "nginx not found: %s", nchanInstallHint)
	module := os.Getenv("WAITLOAD_NCHAN_MODULE")
	if module == "" {
		module = debianNchanModule
	}
	_, err = os.Stat(module)
	require.NoError(t, err, "the Nchan module for nginx not found: %s", nchanInstallHint)

	port, err := redistest.FreePort()
	require.NoError(t, err)
	listen := fmt.Sprintf("127.0.0.1:%d", port)
	dir := t.TempDir()
	conf := filepath.Join(dir, "nginx.conf")
	require.NoError(t, os.WriteFile(conf, []byte(nchanConf(t, module, dir, listen, redisAddr)), 0o644))
	args := []string{"-p", dir + "/", "-e", filepath.Join(dir, "error.log"), "-c", conf}
	out, err := exec.Command(bin, append(args, "-t")...).CombinedOutput()
	require.NoError(t, err, "nginx -t:\n%s", out)

	cmd := exec.Command(bin, append(args, "-g", "daemon off;")...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its worker is in its group
	var logs servertest.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM) // fast shutdown: the master stops its worker
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		if t.Failed() {
			errLog, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Logf("nginx output:\n%s\nerror.log:\n%s", logs.String(), errLog)
		}
	})

	base := "http://" + listen
	t0, err := waiter.ParseTarget(base, "")
	require.NoError(t, err)
	st := nchan.NewStats(base, httpClient(t0, time.Second, 1))
	deadline := time.Now().Add(10 * time.Second)
	for {
		mode, err := st.Notify(context.Background())
		if mode == "nchan on redis" {
			return base
		}
		select {
		case <-exited:
			t.Fatalf("nginx exited: %s", logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx on %s not ready: %q, %v\n%s", listen, mode, err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
