package statuspage

import (
	"embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"net/url"
	"strconv"
	"time"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"seconds":     func(d time.Duration) int { return int(math.Max(1, d.Seconds())) },
	"stamp":       func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"clock":       func(t time.Time) string { return t.UTC().Format("01-02 15:04") },
	"time":        func(t time.Time) string { return t.UTC().Format("01-02 15:04:05") },
	"num":         num,
	"bound":       bound,
	"age":         age,
	"spark":       sparkline,
	"fpsChart":    fpsChart,
	"memoryChart": memoryChart,
	"seriesText":  seriesText,
	"resultIcon":  resultIcon,
	"verdictIcon": verdictIcon,
	"targetURL":   func(name string) string { return "/targets/" + url.PathEscape(name) },
	"pageURL":     pageURL,
	"inc":         func(i int) int { return i + 1 },
	"dec":         func(i int) int { return i - 1 },
	"list":        func(v ...any) []any { return v },
	"figures": func(caption, label string, s Series, low bool) figures {
		return figures{Caption: caption, Label: label, Series: s, Low: low}
	},
	"strip": strip,
}).ParseFS(templateFS, "templates/*.html"))

// figures is a chart's text alternative: its points as a table.
type figures struct {
	Caption, Label string
	Series         Series
	Low            bool
}

// RenderFleet writes the fleet view.
func RenderFleet(w io.Writer, f Fleet) error { return pages.ExecuteTemplate(w, "fleet.html", f) }

// RenderTarget writes a target's page.
func RenderTarget(w io.Writer, t Target) error { return pages.ExecuteTemplate(w, "target.html", t) }

func num(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "—"
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

// bound is a threshold as the config writes it: 85, 92.5, 400.
func bound(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// age is a duration rounded for people: 45s, 12m, 3h20m, 2d4h.
func age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(max(d, 0).Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
}

// seriesText is a sparkline's text alternative.
func seriesText(s Series, unit string) string {
	if len(s.Points) == 0 {
		return "no data in the last hour"
	}
	lo, hi, sum := math.Inf(1), math.Inf(-1), 0.0
	for _, p := range s.Points {
		lo, hi, sum = math.Min(lo, p.Value), math.Max(hi, p.Value), sum+p.Value
	}
	return fmt.Sprintf("last hour: min %s, mean %s, max %s %s over %d minutes", num(lo), num(sum/float64(len(s.Points))), num(hi), unit, len(s.Points))
}

func resultIcon(result string, gap bool) string {
	switch {
	case gap:
		return "◇"
	case result == "pass":
		return "✔"
	case result == "fail":
		return "✖"
	case result == "skipped":
		return "–"
	}
	return "·"
}

func verdictIcon(v string) string {
	switch v {
	case "pass":
		return "✔"
	case "warn":
		return "▲"
	}
	return "✖"
}

func pageURL(filter string, page int) string {
	q := url.Values{"page": {strconv.Itoa(page)}}
	if filter != "" {
		q.Set("q", filter)
	}
	return "/?" + q.Encode()
}
