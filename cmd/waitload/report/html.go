package report

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"os"
	"strings"
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

// chartSVG plots a mode's latency curve, x the percentile and y the
// latency, with the p50, p90 and p99 marked; "" with fewer than 2 points.
func chartSVG(m ModeReport) template.HTML {
	curve := m.LatencyCurve
	if len(curve) < 2 {
		return ""
	}
	x0, x1, y0, y1 := float64(padL), float64(chartW-padR), float64(chartH-padB), float64(padT)
	lo, hi := math.Min(0, curve[0]), curve[len(curve)-1]
	step := niceStep((hi - lo) / 4)
	hi = math.Max(step, math.Ceil(hi/step)*step)
	lo = math.Floor(lo/step) * step
	x := func(p float64) float64 { return x0 + (x1-x0)*p/100 }
	y := func(v float64) float64 { return y0 - (y0-y1)*(v-lo)/(hi-lo) }
	var b strings.Builder
	mode := html.EscapeString(string(m.Mode))
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="%s latency by percentile">`+"\n",
		chartW, chartH, chartW, chartH, mode)
	for v := lo; v <= hi+step/2; v += step {
		fmt.Fprintf(&b, `<line class="grid" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/><text x="%.1f" y="%.1f" text-anchor="end">%g ms</text>`+"\n",
			x0, x1, y(v), y(v), x0-4, y(v)+4, math.Round(v*1000)/1000)
	}
	for p := 0.0; p <= 100; p += 25 {
		fmt.Fprintf(&b, `<line class="grid" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/><text x="%.1f" y="%.1f" text-anchor="middle">p%g</text>`+"\n",
			x(p), x(p), y1, y0, x(p), y0+16, p)
	}
	fmt.Fprintf(&b, `<line class="axis" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/><line class="axis" x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f"/>`+"\n",
		x0, x1, y0, y0, x0, x0, y1, y0)
	pts := make([]string, len(curve))
	for i, v := range curve {
		pts[i] = fmt.Sprintf("%.1f,%.1f", x(100*float64(i)/float64(len(curve)-1)), y(v))
	}
	fmt.Fprintf(&b, "<polyline class=\"line\" points=\"%s\"/>\n", strings.Join(pts, " "))
	for _, mk := range []struct{ p, v float64 }{{50, m.Latency.P50}, {90, m.Latency.P90}, {99, m.Latency.P99}} {
		fmt.Fprintf(&b, `<circle class="mark" cx="%.1f" cy="%.1f" r="3.5"/><text x="%.1f" y="%.1f" text-anchor="end">p%g %.1f ms</text>`+"\n",
			x(mk.p), y(mk.v), x(mk.p)-6, y(mk.v)-8, mk.p, mk.v)
	}
	b.WriteString("</svg>")
	return template.HTML(b.String())
}

// niceStep rounds a step up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 || math.IsNaN(raw) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, f := range []float64{1, 2, 5} {
		if f*p >= raw {
			return f * p
		}
	}
	return 10 * p
}

var htmlReport = template.Must(template.New("report").Funcs(template.FuncMap{"chart": chartSVG}).Parse(`<!doctype html>
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
{{range .Rep.Modes}}<section id="mode-{{.Mode}}">
<h2>{{.Mode}}: latency by percentile</h2>
{{$m := .}}{{range .ErrorsByCount}}<p class="err">{{index $m.ErrorKinds .}} × {{.}}</p>{{end}}{{range .Warnings}}<p class="err">warning: {{.}}</p>{{end}}
{{with chart .}}{{.}}{{else}}<p>No deliveries.</p>{{end}}
</section>
{{end}}</body></html>
`))

// WriteHTML writes the report as one self-contained HTML file.
func (rep *Report) WriteHTML(path string) error {
	data := struct {
		Rep        *Report
		Rows       [][]string
		MemoryNote string
	}{rep, rep.cells(), memoryNote}
	var b strings.Builder
	if err := htmlReport.Execute(&b, data); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}
