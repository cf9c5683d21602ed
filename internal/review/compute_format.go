package review

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// The figures are for people: fixed, short formats, so that a figure reads
// the same in Slack, Markdown and the golden files.

// pct formats a share with one decimal, rounded down so that 99.96 % never
// reads as a perfect 100 %.
func pct(share float64) string {
	switch {
	case math.IsNaN(share):
		return "n/a"
	case share >= 1:
		return "100%"
	case share <= 0:
		return "0%"
	}
	return strconv.FormatFloat(math.Floor(share*1000+1e-9)/10, 'f', 1, 64) + "%"
}

// count formats a count with thousands separators ("14,400").
func count[T int | float64](n T) string {
	v := int64(math.Round(float64(n)))
	s := strconv.FormatInt(max(v, -v), 10)
	var b strings.Builder
	if v < 0 {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// plural is a count with its noun: "1 restart", "2 restarts", "0
// restarts", "1,204 restarts". The noun agrees with the count as printed
// (0.6 prints as 1). Every counted noun in a figure or note goes through
// it.
func plural[T int | float64](n T, one, many string) string {
	s := count(n)
	if s == "1" {
		return s + " " + one
	}
	return s + " " + many
}

// num formats a figure with the given decimals.
func num(v float64, decimals int) string {
	return strconv.FormatFloat(v, 'f', decimals, 64)
}

// signed formats a slope with its sign ("+0.02", "−1.50"; a true minus).
func signed(v float64, decimals int) string {
	s := num(math.Abs(v), decimals)
	if strings.Trim(s, "0.") == "" {
		return "±" + s // rounds to zero: no direction
	}
	if v < 0 {
		return "−" + s
	}
	return "+" + s
}

// mb formats MiB without decimals ("212 MB", as the checklist writes it).
func mb(v float64) string {
	return num(v, 0) + " MB"
}

// ms formats a latency: milliseconds below a second, else seconds.
func ms(seconds float64) string {
	if seconds < 1 {
		return num(seconds*1000, 0) + " ms"
	}
	return num(seconds, 2) + " s"
}

// shortDuration formats a duration to the second, short ("6m40s", "2h5m",
// "3d4h"), dropping zero units.
func shortDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	d = d.Round(time.Second)
	days := d / (24 * time.Hour)
	d -= days * 24 * time.Hour
	h := d / time.Hour
	d -= h * time.Hour
	m := d / time.Minute
	s := (d - m*time.Minute) / time.Second
	var b strings.Builder
	switch {
	case days > 0:
		fmt.Fprintf(&b, "%dd", days)
		if h > 0 {
			fmt.Fprintf(&b, "%dh", h)
		}
		return b.String()
	case h > 0:
		fmt.Fprintf(&b, "%dh", h)
		if m > 0 {
			fmt.Fprintf(&b, "%dm", m)
		}
		return b.String()
	case m > 0:
		fmt.Fprintf(&b, "%dm", m)
		if s > 0 {
			fmt.Fprintf(&b, "%ds", s)
		}
		return b.String()
	}
	return fmt.Sprintf("%ds", s)
}
