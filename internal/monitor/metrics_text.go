package monitor

import (
	"bufio"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// The per-target families are also written straight to the text
// exposition format (WriteText), for the daemon's /metrics: client_golang's
// Registry.Gather builds and checks a dto.Metric for every series and the
// encoder reads them back, while writing the text from the series' own
// label values and bits allocates little more than the copy of each
// family's list (BenchmarkWriteText1000Targets against
// BenchmarkScrape1000Targets). The families stay Collectors too, so a
// Registry (and the tests reading one) sees the same series.

// TextFamily is a metric family that writes itself in the text format.
type TextFamily interface {
	prometheus.Collector
	// FamilyName is the family's metric name.
	FamilyName() string
	// WriteText writes the family's HELP and TYPE lines and its series,
	// sorted by label values, in the text exposition format 0.0.4; a
	// family without series writes nothing, as a Registry gathers none.
	WriteText(w *bufio.Writer) error
}

var (
	_ TextFamily = (*GaugeVec)(nil)
	_ TextFamily = (*CounterVec)(nil)
)

// FamilyName returns the family's metric name.
func (v *seriesVec) FamilyName() string { return v.name }

// WriteText writes the family (see TextFamily).
func (v *seriesVec) WriteText(w *bufio.Writer) error {
	v.mu.RLock()
	sorted := slices.Clone(v.sorted)
	v.mu.RUnlock()
	if len(sorted) == 0 {
		return nil
	}
	typ := "gauge"
	if v.kind == prometheus.CounterValue {
		typ = "counter"
	}
	w.WriteString("# HELP ")
	w.WriteString(v.name)
	w.WriteByte(' ')
	helpEscaper.WriteString(w, v.help)
	w.WriteString("\n# TYPE ")
	w.WriteString(v.name)
	w.WriteByte(' ')
	w.WriteString(typ)
	w.WriteByte('\n')
	var num [32]byte
	for _, s := range sorted {
		w.WriteString(v.name)
		for i, value := range s.sortKey {
			if i == 0 {
				w.WriteByte('{')
			} else {
				w.WriteByte(',')
			}
			w.WriteString(v.names[v.order[i]])
			w.WriteString(`="`)
			if strings.ContainsAny(value, "\\\"\n") {
				labelEscaper.WriteString(w, value)
			} else {
				w.WriteString(value)
			}
			w.WriteByte('"')
		}
		if len(s.sortKey) > 0 {
			w.WriteByte('}')
		}
		w.WriteByte(' ')
		w.Write(appendFloat(num[:0], math.Float64frombits(s.bits.Load())))
		if _, err := w.WriteString("\n"); err != nil {
			return err // the writer's error is sticky: one check suffices
		}
	}
	return nil
}

// The text format's escapes: HELP escapes backslash and line feed; label
// values escape the double quote too.
var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

// appendFloat formats a sample value as the text format (and client_golang's
// encoder) does.
func appendFloat(b []byte, f float64) []byte {
	switch {
	case f == 1:
		return append(b, '1')
	case f == 0:
		return append(b, '0')
	case f == -1:
		return append(b, "-1"...)
	case math.IsNaN(f):
		return append(b, "NaN"...)
	case math.IsInf(f, +1):
		return append(b, "+Inf"...)
	case math.IsInf(f, -1):
		return append(b, "-Inf"...)
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}
