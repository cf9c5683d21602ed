package e2e

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

// promqlNonMetric are the identifiers of PromQL that are not metric names
// when not followed by "(" (functions and aggregations always are).
var promqlNonMetric = map[string]bool{
	"and": true, "or": true, "unless": true, "bool": true, "offset": true,
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	"inf": true, "nan": true, "atan2": true,
}

var (
	promqlStrings  = regexp.MustCompile("\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'|`[^`]*`")
	promqlMatchers = regexp.MustCompile(`\{[^}]*\}`)
	promqlRanges   = regexp.MustCompile(`\[[^\]]*\]`)
	promqlGrouping = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promqlOffset   = regexp.MustCompile(`\boffset\s+-?[0-9a-zA-Z]+`)
	promqlVars     = regexp.MustCompile(`\$\{?\w+\}?`)
	promqlNumbers  = regexp.MustCompile(`(^|[^a-zA-Z0-9_:.])(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?`)
	promqlIdent    = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*(\s*\()?`)
)

// promqlMetricNames returns the metric names a PromQL expression selects.
// A tokenizer rather than Prometheus' parser keeps the daemon's module free
// of Prometheus' dependencies: strings, label matchers, ranges, grouping
// label lists, offsets, Grafana variables and numbers are cut out first;
// an identifier followed by "(" is a function, and keywords are skipped.
func promqlMetricNames(expr string) []string {
	for _, re := range []*regexp.Regexp{promqlStrings, promqlMatchers, promqlRanges, promqlGrouping, promqlOffset, promqlVars} {
		expr = re.ReplaceAllString(expr, " ")
	}
	expr = promqlNumbers.ReplaceAllString(expr, "$1 ")
	var names []string
	for _, m := range promqlIdent.FindAllStringSubmatch(expr, -1) {
		if m[1] != "" || promqlNonMetric[strings.ToLower(m[0])] {
			continue
		}
		if !slices.Contains(names, m[0]) {
			names = append(names, m[0])
		}
	}
	return names
}

func TestPromQLMetricNames(t *testing.T) {
	for _, tc := range []struct {
		name, expr string
		want       []string
	}{
		{"selector", `spacetime_fps{target="$target"}`, []string{"spacetime_fps"}},
		{"functions and ranges", `histogram_quantile(0.95, sum by (sink, le) (rate(spacetime_watch_notification_latency_seconds_bucket{sink="x"}[$__rate_interval])))`,
			[]string{"spacetime_watch_notification_latency_seconds_bucket"}},
		{"binary ops, bool, numbers", `(spacetime_fps >= bool 85) * (spacetime_fps <= bool 95) / 1e6 + 14.4 * 0.005`, []string{"spacetime_fps"}},
		{"set ops and grouping", `spacetime_watch_sink_healthy and on (job, instance) spacetime_up{target="a"} unless ignoring (sink) group_left () up`,
			[]string{"spacetime_watch_sink_healthy", "spacetime_up", "up"}},
		{"recording rule names, offset", `avg_over_time(target:spacetime_fps_in_band:ratio_rate5m[30d]) - x offset 1h`,
			[]string{"target:spacetime_fps_in_band:ratio_rate5m", "x"}},
		{"label_replace strings", `label_replace(spacetime_check_success == 0, "alert", "check_$1", "check", "(.+)")`, []string{"spacetime_check_success"}},
		{"no metric", `vector(1) + time()`, nil},
		{"aggregation after the expression", `sum(spacetime_up) without (instance)`, []string{"spacetime_up"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := promqlMetricNames(tc.expr); !slices.Equal(got, tc.want) {
				t.Errorf("promqlMetricNames(%q) = %q, want %q", tc.expr, got, tc.want)
			}
		})
	}
}
