package review

import (
	"math"
	"strings"
)

// sparkWidth is the most characters a review's sparkline has: a day at
// one character an hour, short enough for a Slack line on a phone.
const sparkWidth = 24

// sparkLevels are the eight block heights, lowest first.
var sparkLevels = []rune("▁▂▃▄▅▆▇█")

// Sparkline draws values as block characters (▁▂▃▄▅▆▇█), one per value,
// scaled so that lo is the lowest block and hi the highest (values beyond
// are clamped). A NaN is a gap, drawn as a space. With hi ≤ lo every value
// is drawn at mid height.
func Sparkline(values []float64, lo, hi float64) string {
	var b strings.Builder
	top := len(sparkLevels) - 1
	for _, v := range values {
		switch {
		case math.IsNaN(v):
			b.WriteByte(' ')
		case hi <= lo:
			b.WriteRune(sparkLevels[top/2])
		default:
			i := int(math.Round((v - lo) / (hi - lo) * float64(top)))
			b.WriteRune(sparkLevels[max(0, min(top, i))])
		}
	}
	return b.String()
}

// downsample reduces values to at most width, each output summarising an
// equal run of inputs with agg (NaNs skipped; a run of NaNs stays NaN).
func downsample(values []float64, width int, agg func([]float64) float64) []float64 {
	n := len(values)
	if n <= width {
		return values
	}
	out := make([]float64, width)
	for i := range out {
		out[i] = agg(values[i*n/width : (i+1)*n/width])
	}
	return out
}

// meanOf is the mean of the non-NaN values, NaN if none.
func meanOf(vs []float64) float64 {
	var sum, n float64
	for _, v := range vs {
		if !math.IsNaN(v) {
			sum += v
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / n
}

// maxOf is the largest non-NaN value, NaN if none.
func maxOf(vs []float64) float64 {
	m := math.NaN()
	for _, v := range vs {
		if !math.IsNaN(v) && (math.IsNaN(m) || v > m) {
			m = v
		}
	}
	return m
}

// minOf is the smallest non-NaN value, NaN if none.
func minOf(vs []float64) float64 {
	m := math.NaN()
	for _, v := range vs {
		if !math.IsNaN(v) && (math.IsNaN(m) || v < m) {
			m = v
		}
	}
	return m
}

func allNaN(vs []float64) bool {
	return math.IsNaN(maxOf(vs))
}
