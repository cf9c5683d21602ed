package main

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// exposition is a /metrics page in the Prometheus text format, as the
// daemon serves it: enough of it for the benchmark's figures.
type exposition struct {
	lines []string // the sample lines, comments dropped
}

func parseExposition(body string) exposition {
	var e exposition
	for line := range strings.SplitSeq(body, "\n") {
		if line = strings.TrimSpace(line); line != "" && line[0] != '#' {
			e.lines = append(e.lines, line)
		}
	}
	return e
}

// Series is the number of samples: one per series.
func (e exposition) Series() int { return len(e.lines) }

// SeriesLabelled is the number of series with the label name among their
// labels: with "target", the series that grow with the fleet.
func (e exposition) SeriesLabelled(name string) int {
	n := 0
	for _, line := range e.lines {
		_, labels, _, err := sample(line)
		if err == nil && (strings.HasPrefix(labels, name+`="`) || strings.Contains(labels, `,`+name+`="`)) {
			n++
		}
	}
	return n
}

// sample splits a sample line into its name, its labels' text (without
// braces) and its value.
func sample(line string) (name, labels string, value float64, err error) {
	i := strings.LastIndexByte(line, ' ')
	if i < 0 {
		return "", "", 0, fmt.Errorf("sample %q: no value", line)
	}
	value, err = strconv.ParseFloat(line[i+1:], 64)
	if err != nil {
		return "", "", 0, fmt.Errorf("sample %q: %w", line, err)
	}
	head := line[:i]
	if j := strings.IndexByte(head, '{'); j >= 0 {
		return head[:j], strings.TrimSuffix(head[j+1:], "}"), value, nil
	}
	return head, "", value, nil
}

// Sum adds the values of every series named name.
func (e exposition) Sum(name string) (float64, bool) {
	var sum float64
	found := false
	for _, l := range e.lines {
		if n, _, v, err := sample(l); err == nil && n == name {
			sum += v
			found = true
		}
	}
	return sum, found
}

// bucket is one cumulative histogram bucket.
type bucket struct {
	le    float64
	count float64
}

// Histogram returns the cumulative buckets of the histogram name (one
// series), ordered by upper bound, +Inf last.
func (e exposition) Histogram(name string) ([]bucket, error) {
	var bs []bucket
	for _, l := range e.lines {
		n, labels, v, err := sample(l)
		if err != nil || n != name+"_bucket" {
			continue
		}
		le, ok := labelValue(labels, "le")
		if !ok {
			return nil, fmt.Errorf("%s: bucket %q without le", name, l)
		}
		bound, err := strconv.ParseFloat(le, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: le %q: %w", name, le, err)
		}
		bs = append(bs, bucket{le: bound, count: v})
	}
	if len(bs) == 0 {
		return nil, fmt.Errorf("no histogram %s on /metrics", name)
	}
	slices.SortFunc(bs, func(a, b bucket) int { return cmp.Compare(a.le, b.le) })
	return bs, nil
}

// labelValue finds name="value" in a label set's text.
func labelValue(labels, name string) (string, bool) {
	for p := range strings.SplitSeq(labels, ",") {
		k, v, ok := strings.Cut(p, "=")
		if ok && strings.TrimSpace(k) == name {
			return strings.Trim(strings.TrimSpace(v), `"`), true
		}
	}
	return "", false
}

// bucketDelta is after minus before, bucket by bucket: the observations
// made between two scrapes. The two must have the same bounds.
func bucketDelta(before, after []bucket) ([]bucket, error) {
	if len(before) != len(after) {
		return nil, fmt.Errorf("histogram changed shape between scrapes: %d buckets, then %d", len(before), len(after))
	}
	d := make([]bucket, len(after))
	for i := range after {
		if before[i].le != after[i].le {
			return nil, fmt.Errorf("histogram bucket %d moved from le=%v to le=%v", i, before[i].le, after[i].le)
		}
		d[i] = bucket{le: after[i].le, count: after[i].count - before[i].count}
	}
	return d, nil
}

// quantile estimates the q-quantile of cumulative buckets as PromQL's
// histogram_quantile does: linear interpolation inside the bucket that
// holds it, the lowest bucket starting at 0, and the highest finite bound
// when it falls in +Inf. NaN when the buckets are empty.
func quantile(q float64, bs []bucket) float64 {
	if len(bs) == 0 || !math.IsInf(bs[len(bs)-1].le, 1) {
		return math.NaN()
	}
	total := bs[len(bs)-1].count
	if total <= 0 {
		return math.NaN()
	}
	rank := q * total
	i, _ := slices.BinarySearchFunc(bs, rank, func(b bucket, r float64) int { return cmp.Compare(b.count, r) })
	if i == len(bs)-1 {
		if len(bs) < 2 {
			return math.NaN()
		}
		return bs[len(bs)-2].le
	}
	lower, below := 0.0, 0.0
	if i > 0 {
		lower, below = bs[i-1].le, bs[i-1].count
	}
	inBucket := bs[i].count - below
	if inBucket <= 0 {
		return bs[i].le
	}
	return lower + (bs[i].le-lower)*(rank-below)/inBucket
}

// percentile is the nearest-rank p-th percentile (0 < p ≤ 100) of xs.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	k := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(k, len(s)-1))]
}

// Targets is the set of target label values over the series named name.
func (e exposition) Targets(name string) map[string]bool {
	out := map[string]bool{}
	for _, l := range e.lines {
		if n, labels, _, err := sample(l); err == nil && n == name {
			if t, ok := labelValue(labels, "target"); ok {
				out[t] = true
			}
		}
	}
	return out
}
