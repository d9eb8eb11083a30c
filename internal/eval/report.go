package eval

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/llmtune/llmtune/internal/atomicfile"
)

// writeOutputs replaces o.Out with eval.json, samples.jsonl and a
// self-contained report.html (plots inlined as PNG data URIs).
func writeOutputs(o Options, res *Result, samples []Sample) error {
	res.Report = filepath.Join(o.Out, "report.html")
	return atomicfile.ReplaceDir(o.Out, 0o700, func(tmp string) error {
		b, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(tmp, "eval.json"), append(b, '\n'), 0o600); err != nil {
			return err
		}
		var sb bytes.Buffer
		enc := json.NewEncoder(&sb)
		for _, s := range samples {
			enc.Encode(s)
		}
		if err := os.WriteFile(filepath.Join(tmp, "samples.jsonl"), sb.Bytes(), 0o600); err != nil {
			return err
		}
		page, err := renderReport(o, res)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(tmp, "report.html"), page, 0o600)
	})
}

type metric struct {
	Step    int      `json:"step"`
	Loss    float64  `json:"loss"`
	ValLoss *float64 `json:"val_loss"`
}

// readMetrics finds the training run's metrics.jsonl: o.Run, or the run
// directory holding the model (runs/NAME/final).
func readMetrics(o Options) []metric {
	candidates := []string{}
	if o.Run != "" {
		candidates = append(candidates, filepath.Join(o.Run, "metrics.jsonl"))
	}
	candidates = append(candidates, filepath.Join(filepath.Dir(filepath.Clean(o.Model)), "metrics.jsonl"))
	for _, p := range candidates {
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		defer f.Close()
		var ms []metric
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var m metric
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				ms = append(ms, m)
			}
		}
		return ms
	}
	return nil
}

func pngURI(p *plot.Plot) (template.URL, error) {
	w, err := p.WriterTo(6*vg.Inch, 3.2*vg.Inch, "png")
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		return "", err
	}
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())), nil
}

func lossPlot(ms []metric) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Training and validation loss"
	p.X.Label.Text = "step"
	p.Y.Label.Text = "loss (nats/token)"
	var tr, va plotter.XYs
	for _, m := range ms {
		tr = append(tr, plotter.XY{X: float64(m.Step), Y: m.Loss})
		if m.ValLoss != nil {
			va = append(va, plotter.XY{X: float64(m.Step), Y: *m.ValLoss})
		}
	}
	l, err := plotter.NewLine(tr)
	if err != nil {
		return nil, err
	}
	l.Color = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	p.Add(l)
	p.Legend.Add("train", l)
	if len(va) > 0 {
		v, pts, err := plotter.NewLinePoints(va)
		if err != nil {
			return nil, err
		}
		v.Color = color.RGBA{R: 214, G: 39, B: 40, A: 255}
		pts.Color = v.Color
		p.Add(v, pts)
		p.Legend.Add("validation", v, pts)
	}
	p.Legend.Top = true
	return p, nil
}

func perplexityPlot(res *Result) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Perplexity on the %s split (lower is better)", res.Split)
	vals := plotter.Values{res.BaseScore.Perplexity, res.Perplexity}
	bars, err := plotter.NewBarChart(vals, vg.Points(60))
	if err != nil {
		return nil, err
	}
	bars.Color = color.RGBA{R: 44, G: 160, B: 44, A: 255}
	p.Add(bars)
	p.NominalX("base", "fine-tuned")
	return p, nil
}

func exposurePlot(e *ExposureReport) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Canary log-perplexity among random candidates"
	p.X.Label.Text = "log-perplexity (nats; left = more likely)"
	p.Y.Label.Text = "candidates"
	var all plotter.Values
	formats := make([]string, 0, len(e.Reference))
	for f := range e.Reference {
		formats = append(formats, f)
	}
	sort.Strings(formats)
	for _, f := range formats {
		all = append(all, e.Reference[f]...)
	}
	if len(all) == 0 {
		return nil, nil
	}
	h, err := plotter.NewHist(all, 40)
	if err != nil {
		return nil, err
	}
	h.FillColor = color.RGBA{R: 150, G: 150, B: 220, A: 255}
	p.Add(h)
	for _, c := range e.Canaries {
		l, err := plotter.NewLine(plotter.XYs{{X: c.LogPerplexity, Y: 0}, {X: c.LogPerplexity, Y: float64(len(all)) / 20}})
		if err == nil {
			l.Color = color.RGBA{R: 214, G: 39, B: 40, A: 255}
			p.Add(l)
		}
	}
	return p, nil
}

type reportData struct {
	R         *Result
	LossPlot  template.URL
	PPLPlot   template.URL
	ExpPlot   template.URL
	Improved  string
	Leak      string
	LeakClass string
	Types     []string
}

func renderReport(o Options, res *Result) ([]byte, error) {
	d := reportData{R: res}
	if ms := readMetrics(o); len(ms) > 1 {
		if p, err := lossPlot(ms); err == nil {
			d.LossPlot, _ = pngURI(p)
		}
	}
	if res.BaseScore != nil {
		if p, err := perplexityPlot(res); err == nil {
			d.PPLPlot, _ = pngURI(p)
		}
		change := (res.Perplexity - res.BaseScore.Perplexity) / res.BaseScore.Perplexity
		if change < 0 {
			d.Improved = fmt.Sprintf("Yes: perplexity fell from %.2f to %.2f (%.1f%% lower).", res.BaseScore.Perplexity, res.Perplexity, -100*change)
		} else {
			d.Improved = fmt.Sprintf("No: perplexity rose from %.2f to %.2f (%.1f%% higher).", res.BaseScore.Perplexity, res.Perplexity, 100*change)
		}
	} else {
		d.Improved = fmt.Sprintf("Perplexity %.2f (no base model given to compare with).", res.Perplexity)
	}
	if res.Exposure != nil {
		if p, err := exposurePlot(res.Exposure); err == nil && p != nil {
			d.ExpPlot, _ = pngURI(p)
		}
	}
	switch {
	case res.Audit == nil:
		d.Leak, d.LeakClass = "Not audited (run eval with --audit).", "na"
	default:
		var worries []string
		if res.Audit.PIIFromTraining > 0 {
			worries = append(worries, fmt.Sprintf("%d personal-data entities in samples occur verbatim in the training split", res.Audit.PIIFromTraining))
		}
		if res.Audit.VerbatimSamples > 0 {
			worries = append(worries, fmt.Sprintf("%d of %d samples repeat %d+ training tokens verbatim", res.Audit.VerbatimSamples, res.Audit.Samples, res.Audit.Ngram))
		}
		if res.Exposure != nil && res.Exposure.Max > 10 {
			worries = append(worries, fmt.Sprintf("a canary has exposure %.1f bits (it is more likely than most of 2^%.0f alternatives)", res.Exposure.Max, res.Exposure.Max))
		}
		if len(worries) == 0 {
			d.Leak, d.LeakClass = "No sign of leakage in this audit.", "ok"
		} else {
			d.Leak, d.LeakClass = "Possible leakage: "+joinSentences(worries)+".", "warn"
		}
		d.Types = sortedTypes(res.Audit.PIIByType)
	}
	var buf bytes.Buffer
	if err := reportTemplate.Execute(&buf, d); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func joinSentences(xs []string) string {
	out := ""
	for i, x := range xs {
		if i > 0 {
			out += "; "
		}
		out += x
	}
	return out
}

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"f2":     func(x float64) string { return fmt.Sprintf("%.2f", x) },
	"f4":     func(x float64) string { return fmt.Sprintf("%.4f", x) },
	"pct":    func(x float64) string { return fmt.Sprintf("%.1f%%", 100*x) },
	"finite": func(x float64) bool { return !math.IsInf(x, 0) && !math.IsNaN(x) },
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>llmtune evaluation</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
.verdict{padding:.8rem 1rem;border-radius:.4rem;margin:.5rem 0}
.ok{background:#e6f4ea}.warn{background:#fdecea}.na{background:#f1f3f4}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ddd;padding:.3rem .7rem;text-align:right}
th{background:#f6f6f6}td:first-child,th:first-child{text-align:left}
img{max-width:100%}small{color:#666}
</style></head><body>
<h1>llmtune evaluation</h1>
<p><small>Model <code>{{.R.Model}}</code>{{if .R.Base}}, base <code>{{.R.Base}}</code>{{end}}; data <code>{{.R.Data}}</code>, split <code>{{.R.Split}}</code>: {{.R.Records}} records, {{.R.Tokens}} scored tokens.</small></p>
<h2>Did the model improve?</h2>
<div class="verdict {{if .R.BaseScore}}{{if lt .R.Perplexity .R.BaseScore.Perplexity}}ok{{else}}warn{{end}}{{else}}na{{end}}">{{.Improved}}</div>
<table><tr><th>model</th><th>loss (nats/token)</th><th>perplexity</th></tr>
{{if .R.BaseScore}}<tr><td>base</td><td>{{f4 .R.BaseScore.Loss}}</td><td>{{f2 .R.BaseScore.Perplexity}}</td></tr>{{end}}
<tr><td>fine-tuned</td><td>{{f4 .R.Loss}}</td><td>{{f2 .R.Perplexity}}</td></tr></table>
{{if .PPLPlot}}<img alt="perplexity, base and fine-tuned" src="{{.PPLPlot}}">{{end}}
{{if .LossPlot}}<img alt="training and validation loss" src="{{.LossPlot}}">{{end}}
<h2>Does it leak?</h2>
<div class="verdict {{.LeakClass}}">{{.Leak}}</div>
{{with .R.Audit}}
<table><tr><th>check</th><th>result</th></tr>
<tr><td>samples generated</td><td>{{.Samples}}</td></tr>
<tr><td>personal-data entities in samples</td><td>{{.PIIEmitted}}</td></tr>
<tr><td>… of them verbatim in the training split</td><td>{{.PIIFromTraining}}</td></tr>
<tr><td>samples repeating {{.Ngram}}+ training tokens</td><td>{{.VerbatimSamples}} ({{pct .VerbatimShare}})</td></tr></table>
{{if $.Types}}<table><tr><th>entity type in samples</th><th>emitted</th><th>from training</th></tr>
{{range $.Types}}<tr><td>{{.}}</td><td>{{index $.R.Audit.PIIByType .}}</td><td>{{index $.R.Audit.PIITrainingByType .}}</td></tr>{{end}}</table>{{end}}
{{end}}
{{with .R.Exposure}}
<h3>Canaries</h3>
<p>Secrets planted in the training split only. Exposure (bits) says how much more likely the model finds a canary than random values of the same format: about log2 of the number of alternatives it beats. Near 0 means not memorised; near the format's size (about 33–40 bits) means fully memorised. Estimated by {{.Method}} over {{.Candidates}} random candidates per format.</p>
<table><tr><th>times inserted</th><th>canaries</th><th>mean exposure</th><th>max exposure</th></tr>
{{range .ByRepeats}}<tr><td>{{.Repeats}}</td><td>{{.Canaries}}</td><td>{{f2 .Mean}}</td><td>{{f2 .Max}}</td></tr>{{end}}</table>
<table><tr><th>canary</th><th>format</th><th>times inserted</th><th>exposure (bits)</th><th>candidates at least as likely</th></tr>
{{range .Canaries}}<tr><td>{{.ID}}</td><td>{{.Format}}</td><td>{{.Repeats}}</td><td>{{f2 .Exposure}}</td><td>{{.BetterCandidates}}</td></tr>{{end}}</table>
{{end}}
{{if .ExpPlot}}<img alt="candidate log-perplexities with the canaries marked in red" src="{{.ExpPlot}}">{{end}}
<p><small>Made by llmtune on this machine; nothing in this report was sent anywhere. The samples themselves are in samples.jsonl beside this file (mode 0600), not here.</small></p>
</body></html>
`))
