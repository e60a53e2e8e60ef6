package report

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// jsonFields are every field of the JSON report, by its place in it
// ([] an array's elements, * a map's keys). A field renamed, moved or
// dropped by accident fails TestJSONFields: scripts and dashboards read
// these names. A field added on purpose goes here and into README.md.
var jsonFields = []string{
	"started", "target", "redis", "notify",
	"server", "waiters", "jobs", "rate", "budgetSeconds", "pollIntervalSeconds", "holdSeconds", "settleSeconds",
	"sources", "procs", "dialConcurrency", "tokens", "jobSource", "latencyFrom",
	"serverSettings.demo", "serverSettings.waitBudgetSeconds", "serverSettings.pollIntervalSeconds",
	"warnings[]",
	"modes[].mode", "modes[].waiters", "modes[].jobs", "modes[].heldPeak",
	"modes[].delivered", "modes[].failed", "modes[].errors", "modes[].timeouts", "modes[].errorKinds.*",
	"modes[].requests", "modes[].rejected", "modes[].completed", "modes[].completionRate",
	"modes[].latency.count", "modes[].latency.minMs", "modes[].latency.p50Ms", "modes[].latency.p90Ms",
	"modes[].latency.p99Ms", "modes[].latency.maxMs", "modes[].latency.meanMs",
	"modes[].latencyFromSent.count", "modes[].latencyFromSent.minMs", "modes[].latencyFromSent.p50Ms", "modes[].latencyFromSent.p90Ms",
	"modes[].latencyFromSent.p99Ms", "modes[].latencyFromSent.maxMs", "modes[].latencyFromSent.meanMs",
	"modes[].latencyFromDue.count", "modes[].latencyFromDue.minMs", "modes[].latencyFromDue.p50Ms", "modes[].latencyFromDue.p90Ms",
	"modes[].latencyFromDue.p99Ms", "modes[].latencyFromDue.maxMs", "modes[].latencyFromDue.meanMs",
	"modes[].latencyCurveMs[]",
	"modes[].redis.holdCommands", "modes[].redis.commands", "modes[].redis.producer", "modes[].redis.net", "modes[].redis.reads",
	"modes[].redis.commandsPerJob", "modes[].redis.netCommandsPerJob", "modes[].redis.readsPerJob", "modes[].redis.byCommand.*",
	"modes[].cpu.serverMs", "modes[].cpu.redisMs", "modes[].cpu.clientMs",
	"modes[].jobwait.rssBaselineBytes", "modes[].jobwait.rssPeakBytes", "modes[].jobwait.goroutinesBaseline",
	"modes[].jobwait.goroutinesPeak", "modes[].jobwait.waitersPeak", "modes[].jobwait.bytesPerWaiter",
	"modes[].jobwait.hubReads", "modes[].jobwait.hubReadsPerJob",
	"modes[].phasesSeconds.connect", "modes[].phasesSeconds.hold", "modes[].phasesSeconds.complete",
	"modes[].phasesSeconds.drain", "modes[].phasesSeconds.total",
	"modes[].warnings[]",
	"verdict.passed", "verdict.failures[]",
	"verdict.thresholds[].threshold", "verdict.thresholds[].mode", "verdict.thresholds[].metric", "verdict.thresholds[].op",
	"verdict.thresholds[].limit", "verdict.thresholds[].unit", "verdict.thresholds[].value", "verdict.thresholds[].passed",
}

// TestJSONFields pins the JSON report's field names, and that README.md's
// section on the JSON report documents every one.
func TestJSONFields(t *testing.T) {
	assert.Equal(t, jsonFields, fieldPaths(reflect.TypeFor[Report](), ""))

	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(readme), "\n## The JSON report\n")
	require.True(t, ok, "README.md has a section ## The JSON report")
	section, _, _ = strings.Cut(section, "\n## ")
	for _, f := range jsonFields {
		assert.Contains(t, section, "`"+f+"`", "README.md documents %s", f)
	}
}

// fieldPaths lists the JSON fields of type t, as encoding/json names them.
func fieldPaths(t reflect.Type, prefix string) []string {
	switch {
	case t == reflect.TypeFor[time.Time]():
		return []string{prefix}
	case t.Kind() == reflect.Pointer:
		return fieldPaths(t.Elem(), prefix)
	case t.Kind() == reflect.Slice:
		return fieldPaths(t.Elem(), prefix+"[]")
	case t.Kind() == reflect.Map:
		return fieldPaths(t.Elem(), prefix+".*")
	case t.Kind() != reflect.Struct:
		return []string{prefix}
	}
	var out []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case !f.IsExported() || name == "-":
		case f.Anonymous && name == "":
			out = append(out, fieldPaths(f.Type, prefix)...)
		default:
			if prefix != "" {
				name = prefix + "." + name
			}
			out = append(out, fieldPaths(f.Type, name)...)
		}
	}
	return out
}
