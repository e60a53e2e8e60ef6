package probe

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStatTicks(t *testing.T) {
	// A command name with spaces and parentheses, as a process may set it.
	line := "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 1311 0 0 0 37 12 0 0 20 0 9 0 12345 1234567 890 18446744073709551615"
	ticks, err := statTicks(line)
	require.NoError(t, err)
	assert.Equal(t, int64(49), ticks, "utime 37 + stime 12")

	for _, bad := range []string{"", "4242 no name S 1", "4242 (short) S 1 2 3", "4242 (x) S 1 2 3 4 5 6 7 8 9 10 x 12"} {
		_, err := statTicks(bad)
		assert.Error(t, err, "%q", bad)
	}
}

func TestProcCPU(t *testing.T) {
	before, err := ProcCPU([]int{os.Getpid()})
	require.NoError(t, err)
	// Burn at least two ticks of this process's own CPU.
	for start := time.Now(); time.Since(start) < 100*time.Millisecond; {
	}
	after, err := ProcCPU([]int{os.Getpid(), os.Getpid()})
	require.NoError(t, err)
	assert.Greater(t, after, 2*before, "the same process counted twice, after it ran")

	_, err = ProcCPU([]int{1 << 30})
	assert.ErrorContains(t, err, "-cpu-pids")
}

func TestParseCPUInfo(t *testing.T) {
	info := "# CPU\r\nused_cpu_sys:1.250000\r\nused_cpu_user:0.750500\r\nused_cpu_sys_children:9.000000\r\nused_cpu_sys_main_thread:1.2\r\n"
	assert.InDelta(t, 2.0005, sumFields(info, "used_cpu_sys", "used_cpu_user"), 1e-9, "sys + user, not the children's")
	assert.Zero(t, sumFields("# CPU\r\n", "used_cpu_sys", "used_cpu_user"))
}
