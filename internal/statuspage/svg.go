package statuspage

import (
	"fmt"
	"html/template"
	"math"
	"strings"
	"time"
)

// The SVG is built from numbers and fixed words only: no value from
// config, the instance or a user reaches it, so it is marked safe. Text
// alternatives (aria-label, the figures tables) go through the template.

// chart is one chart's geometry: the viewBox and the plotted value range.
type chart struct {
	w, h     float64
	from, to time.Time
	lo, hi   float64
}

func (c chart) x(at time.Time) float64 {
	span := c.to.Sub(c.from).Seconds()
	if span <= 0 {
		return 0
	}
	return c.w * at.Sub(c.from).Seconds() / span
}

func (c chart) y(v float64) float64 {
	if c.hi <= c.lo {
		return c.h / 2
	}
	v = math.Max(c.lo, math.Min(c.hi, v))
	return c.h - c.h*(v-c.lo)/(c.hi-c.lo)
}

// path draws values as a polyline path, broken where a minute is missing.
func (c chart) path(pts []Point, value func(Point) float64) string {
	var b strings.Builder
	var prev time.Time
	lone := false // the last point began a segment: draw it as a dash if none follows
	for _, p := range pts {
		v := value(p)
		if math.IsNaN(v) {
			prev = time.Time{}
			continue
		}
		if prev.IsZero() || p.At.Sub(prev) > 2*time.Minute {
			if lone {
				b.WriteString("h1 ")
			}
			fmt.Fprintf(&b, "M%.1f %.1f ", c.x(p.At), c.y(v))
			lone = true
		} else {
			fmt.Fprintf(&b, "L%.1f %.1f ", c.x(p.At), c.y(v))
			lone = false
		}
		prev = p.At
	}
	if lone {
		b.WriteString("h1")
	}
	return strings.TrimSpace(b.String())
}

// valueRange is the range of the series' values, widened to include the
// given marks and padded by a tenth.
func valueRange(s Series, marks ...float64) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, p := range s.Points {
		lo, hi = math.Min(lo, p.Value), math.Max(hi, p.Value)
		if !math.IsNaN(p.Low) && p.Low > 0 {
			lo = math.Min(lo, p.Low)
		}
	}
	for _, m := range marks {
		lo, hi = math.Min(lo, m), math.Max(hi, m)
	}
	if math.IsInf(lo, 0) {
		return 0, 1
	}
	pad := math.Max((hi-lo)/10, 1)
	return math.Max(0, lo-pad), hi + pad
}

// sparkline is a small line of the series, no axes.
func sparkline(s Series) template.HTML {
	c := chart{w: 120, h: 24, from: s.From, to: s.To}
	c.lo, c.hi = valueRange(s)
	d := c.path(s.Points, func(p Point) float64 { return p.Value })
	if d == "" {
		return template.HTML(`<svg class="spark" viewBox="0 0 120 24" aria-hidden="true" focusable="false"></svg>`)
	}
	return template.HTML(fmt.Sprintf(`<svg class="spark" viewBox="0 0 120 24" aria-hidden="true" focusable="false"><path class="line" d="%s"/></svg>`, d))
}

// fpsChart draws FPS (the minute's mean) with the band shaded and the 1%
// low dashed.
func fpsChart(s Series, bandLo, bandHi float64) template.HTML {
	c := chart{w: 600, h: 160, from: s.From, to: s.To}
	c.lo, c.hi = valueRange(s, bandLo, bandHi)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 600 160" aria-hidden="true" focusable="false">`)
	fmt.Fprintf(&b, `<rect class="band" x="0" y="%.1f" width="600" height="%.1f"/>`, c.y(bandHi), c.y(bandLo)-c.y(bandHi))
	axes(&b, c)
	if d := c.path(s.Points, func(p Point) float64 { return p.Low }); d != "" {
		fmt.Fprintf(&b, `<path class="low" d="%s"/>`, d)
	}
	if d := c.path(s.Points, func(p Point) float64 { return p.Value }); d != "" {
		fmt.Fprintf(&b, `<path class="line" d="%s"/>`, d)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// memoryChart draws memory (the minute's max) with the ceiling.
func memoryChart(s Series, limit float64) template.HTML {
	c := chart{w: 600, h: 160, from: s.From, to: s.To}
	c.lo, c.hi = valueRange(s, limit)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 600 160" aria-hidden="true" focusable="false">`)
	axes(&b, c)
	fmt.Fprintf(&b, `<line class="limit" x1="0" x2="600" y1="%.1f" y2="%.1f"/>`, c.y(limit), c.y(limit))
	if d := c.path(s.Points, func(p Point) float64 { return p.Value }); d != "" {
		fmt.Fprintf(&b, `<path class="line" d="%s"/>`, d)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// axes writes the value range at the left edge.
func axes(b *strings.Builder, c chart) {
	fmt.Fprintf(b, `<text class="axis" x="2" y="12">%.0f</text><text class="axis" x="2" y="156">%.0f</text>`, c.hi, c.lo)
}

// strip draws a check's 24 hours: one cell per slice of time, classed by
// its worst result (the counts beside it say the same in words).
func strip(cells []string) template.HTML {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="strip" viewBox="0 0 %d 10" preserveAspectRatio="none" aria-hidden="true" focusable="false">`, len(cells))
	for i, c := range cells {
		switch c {
		case "pass", "fail", "skipped":
			fmt.Fprintf(&b, `<rect class="%s" x="%d" y="0" width="1" height="10"/>`, c, i)
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
