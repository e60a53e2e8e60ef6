package report

import (
	"fmt"
	"html/template"
	"math"
	"os"
	"strings"

	"jobwait/cmd/waitload/waiter"
)

// The HTML report is one self-contained file: the verdict, the table of
// WriteTable, and per mode an inline SVG of latency against percentile. No
// script, no external style sheet, font or image. Its ids are stable, for
// links into it: #verdict, #thresholds, one per check (Check.Anchor),
// #figures, and #mode-MODE for each mode's section.

// Chart geometry, in SVG user units.
const (
	chartW, chartH         = 640, 240
	padL, padR, padT, padB = 56, 16, 12, 32
)

type chart struct {
	Mode   waiter.Mode
	Report ModeReport // its errors and warnings, above the chart
	W, H   int
	Points string // the polyline
	X0, X1 float64
	Y0, Y1 float64
	YTicks []tick
	XTicks []tick
	Marks  []tick
	Empty  bool
}

type tick struct {
	X, Y  float64
	Label string
}

// newChart plots a mode's latency curve: x is the percentile, y the latency.
func newChart(m ModeReport) chart {
	c := chart{Mode: m.Mode, Report: m, W: chartW, H: chartH,
		X0: padL, X1: chartW - padR, Y0: chartH - padB, Y1: padT}
	if len(m.LatencyCurve) < 2 {
		c.Empty = true
		return c
	}
	lo := math.Min(0, m.LatencyCurve[0])
	hi := m.LatencyCurve[len(m.LatencyCurve)-1]
	step := niceStep((hi - lo) / 4)
	hi = math.Max(step, math.Ceil(hi/step)*step)
	lo = math.Floor(lo/step) * step
	x := func(p float64) float64 { return c.X0 + (c.X1-c.X0)*p/100 }
	y := func(v float64) float64 { return c.Y0 - (c.Y0-c.Y1)*(v-lo)/(hi-lo) }
	var pts strings.Builder
	n := len(m.LatencyCurve) - 1
	for i, v := range m.LatencyCurve {
		fmt.Fprintf(&pts, "%.1f,%.1f ", x(100*float64(i)/float64(n)), y(v))
	}
	c.Points = strings.TrimSpace(pts.String())
	for v := lo; v <= hi+step/2; v += step {
		c.YTicks = append(c.YTicks, tick{X: c.X0, Y: y(v), Label: fmt.Sprintf("%g ms", round3(v))})
	}
	for p := 0.0; p <= 100; p += 25 {
		c.XTicks = append(c.XTicks, tick{X: x(p), Y: c.Y0, Label: fmt.Sprintf("p%g", p)})
	}
	for _, mk := range []struct {
		p float64
		v float64
	}{{50, m.Latency.P50}, {90, m.Latency.P90}, {99, m.Latency.P99}} {
		c.Marks = append(c.Marks, tick{X: x(mk.p), Y: y(mk.v), Label: fmt.Sprintf("p%g %.1f ms", mk.p, mk.v)})
	}
	return c
}

// niceStep rounds a step up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 || math.IsNaN(raw) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, f := range []float64{1, 2, 5, 10} {
		if f*p >= raw {
			return f * p
		}
	}
	return 10 * p
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

var htmlReport = template.Must(template.New("report").Funcs(template.FuncMap{
	"add": func(a, b float64) float64 { return a + b },
	"sub": func(a, b float64) float64 { return a - b },
}).Parse(htmlSource))

const htmlSource = `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>waitload report {{.Rep.Started.Format "2006-01-02 15:04:05"}}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222;max-width:60em}
table{border-collapse:collapse;margin:1em 0}
th,td{padding:.25em .8em;border-bottom:1px solid #ddd;text-align:right}
th:first-child,td:first-child{text-align:left;color:#555}
svg{background:#fafafa;border:1px solid #ddd}
svg text{font:11px system-ui,sans-serif;fill:#555}
.grid{stroke:#e4e4e4}.axis{stroke:#999}.line{fill:none;stroke:#2a6fdb;stroke-width:2}
.mark{fill:#d9480f}.err{color:#b00}
</style></head><body>
<h1>waitload</h1>
<p>Target {{.Rep.Target}} (notify: {{or .Rep.Notify "not reported"}}), Redis {{or .Rep.Redis "not read"}}.<br>
{{.Rep.Waiters}} waiters over {{.Rep.Jobs}} jobs per mode, {{.Rep.JobsFrom}},
budget {{.Rep.BudgetSeconds}} s, hold {{.Rep.HoldSeconds}} s, {{.Rep.Sources}} source addresses, {{.Rep.Procs}} process(es){{.Rep.TokensText}}.
Started {{.Rep.Started.Format "2006-01-02 15:04:05 MST"}}.</p>
<p>Latency runs from {{.Rep.LatencyFromText}} to the waiter's receipt of the whole answer.{{if .Rep.Completes}} Redis commands count
from the first completion to the last waiter's end; "net" leaves out the
producer's own writes.{{end}}{{if gt (len .Rep.Modes) 1}} Note: {{.MemoryNote}}.{{end}}</p>
{{range .Rep.Warnings}}<p class="err">warning: {{.}}</p>{{end}}
{{with .Rep.Verdict}}<h2 id="verdict">Verdict: {{.Result}}</h2>
{{if .Failures}}<ul class="err">{{range .Failures}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{if .Thresholds}}<table id="thresholds"><tr><th>threshold</th><th>mode</th><th>measured</th><th>result</th></tr>
{{range .Thresholds}}<tr id="{{.Anchor}}"><td>{{.Threshold}}</td><td>{{.Mode}}</td><td>{{.Measured}}</td><td{{if not .Passed}} class="err"{{end}}>{{.Result}}</td></tr>
{{end}}</table>{{end}}{{end}}
<h2 id="figures">Figures</h2>
<table>
{{range .Rows}}<tr>{{range $i, $c := .}}{{if eq $i 0}}<th>{{$c}}</th>{{else}}<td>{{$c}}</td>{{end}}{{end}}</tr>
{{end}}</table>
{{range .Charts}}{{$m := .Report}}<section id="mode-{{.Mode}}">
<h2>{{.Mode}}: latency by percentile</h2>
{{range $m.ErrorsByCount}}<p class="err">{{index $m.ErrorKinds .}} × {{.}}</p>{{end}}{{range $m.Warnings}}<p class="err">warning: {{.}}</p>{{end}}
{{if .Empty}}<p>No deliveries.</p>{{else}}
<svg xmlns="http://www.w3.org/2000/svg" width="{{.W}}" height="{{.H}}" viewBox="0 0 {{.W}} {{.H}}" role="img" aria-label="{{.Mode}} latency by percentile">
{{$c := .}}{{range .YTicks}}<line class="grid" x1="{{$c.X0}}" x2="{{$c.X1}}" y1="{{.Y}}" y2="{{.Y}}"/><text x="{{printf "%.1f" (sub .X 4)}}" y="{{printf "%.1f" (add .Y 4)}}" text-anchor="end">{{.Label}}</text>
{{end}}{{range .XTicks}}<line class="grid" x1="{{.X}}" x2="{{.X}}" y1="{{$c.Y1}}" y2="{{$c.Y0}}"/><text x="{{.X}}" y="{{printf "%.1f" (add .Y 16)}}" text-anchor="middle">{{.Label}}</text>
{{end}}<line class="axis" x1="{{.X0}}" x2="{{.X1}}" y1="{{.Y0}}" y2="{{.Y0}}"/><line class="axis" x1="{{.X0}}" x2="{{.X0}}" y1="{{.Y1}}" y2="{{.Y0}}"/>
<polyline class="line" points="{{.Points}}"/>
{{range .Marks}}<circle class="mark" cx="{{printf "%.1f" .X}}" cy="{{printf "%.1f" .Y}}" r="3.5"/><text x="{{printf "%.1f" (sub .X 6)}}" y="{{printf "%.1f" (sub .Y 8)}}" text-anchor="end">{{.Label}}</text>
{{end}}</svg>{{end}}
</section>
{{end}}</body></html>
`

// WriteHTML writes the report as one self-contained HTML file.
func (rep *Report) WriteHTML(path string) error {
	data := struct {
		Rep        *Report
		Rows       [][]string
		Charts     []chart
		MemoryNote string
	}{Rep: rep, MemoryNote: memoryNote}
	for _, r := range rep.Rows() {
		row := []string{r.Name}
		for _, m := range rep.Modes {
			row = append(row, r.Value(m))
		}
		data.Rows = append(data.Rows, row)
	}
	for _, m := range rep.Modes {
		data.Charts = append(data.Charts, newChart(m))
	}
	var b strings.Builder
	if err := htmlReport.Execute(&b, data); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}
