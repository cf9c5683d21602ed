package statuspage

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/labels"
	"github.com/spacetime-vr/spacetime-watch/internal/monitor"
	"github.com/spacetime-vr/spacetime-watch/internal/review"
	"github.com/spacetime-vr/spacetime-watch/internal/store"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// fakeSource is a Source held in memory.
type fakeSource struct {
	targets  []monitor.TargetStatus
	alerts   []alert.Alert
	silences []alert.Silence
	minutes  map[string][]review.Minute
	checks   map[string][]store.CheckRecord
	deps     map[string][]store.Deployment
	reviews  []review.Review
	dead     []DeadLetter
	// thresholds are every target's; zero: the defaults.
	thresholds config.ReviewThresholds
}

func (f *fakeSource) Targets() []monitor.TargetStatus { return f.targets }
func (f *fakeSource) Alerts() []alert.Alert           { return f.alerts }
func (f *fakeSource) Silences() []alert.Silence       { return f.silences }
func (f *fakeSource) Minutes(target string, from, to time.Time) ([]review.Minute, error) {
	return f.minutes[target], nil
}
func (f *fakeSource) CheckHistory(target string, _ time.Time) ([]store.CheckRecord, error) {
	return f.checks[target], nil
}
func (f *fakeSource) Deployments(target string) ([]store.Deployment, error) {
	return f.deps[target], nil
}
func (f *fakeSource) Reviews(context.Context, string, string) ([]review.Review, bool, error) {
	return f.reviews, false, nil
}
func (f *fakeSource) Thresholds(string) config.ReviewThresholds {
	if f.thresholds == (config.ReviewThresholds{}) {
		return config.DefaultReviewThresholds()
	}
	return f.thresholds
}
func (f *fakeSource) Outbox() (map[string]int, []DeadLetter, error) {
	return map[string]int{"slack": 2}, f.dead, nil
}

// hostile is what a config, an instance or a user could put in any text.
const hostile = `<script>alert(1)</script>"'><img src=x onerror=alert(2)>{{.}}`

// fleetOf returns n targets; target i's telemetry reports fps(i), and
// instance_up fails on the targets down(i).
func fleetOf(now time.Time, n int, name func(int) string, fps func(int) float64, down func(int) bool) *fakeSource {
	src := &fakeSource{minutes: map[string][]review.Minute{}, checks: map[string][]store.CheckRecord{}, deps: map[string][]store.Deployment{}}
	for i := range n {
		nm := name(i)
		ts := monitor.TargetStatus{Name: nm, LastRound: now}
		for _, c := range config.AllChecks() {
			ts.Checks = append(ts.Checks, monitor.CheckResult{Check: c, Status: monitor.CheckPass, Observed: "200", Expected: "200", Reason: "ok"})
		}
		if down(i) {
			ts.Checks[0].Status = monitor.CheckFail
			ts.Failing = []config.CheckName{config.CheckInstanceUp}
		}
		state := monitor.RuleInactive
		if fps(i) < 85 {
			state = monitor.RuleFiring
		}
		ts.Telemetry = monitor.WatcherStatus{Target: nm, State: monitor.StreamConnected, Connected: true, Rules: []monitor.RuleState{
			{Rule: monitor.RuleFPSLow, State: state, Value: fps(i), HasValue: true},
			{Rule: monitor.RuleMemoryHigh, Value: 300, HasValue: true},
		}}
		ts.Deployment = &monitor.DeploymentView{ID: nm + "-1", Version: "1.0.0", StartedAt: now.Add(-90 * time.Minute), Source: store.SourceAPI}
		src.targets = append(src.targets, ts)
		for m := 60; m > 0; m-- {
			src.minutes[nm] = append(src.minutes[nm], review.Minute{
				At: now.Add(-time.Duration(m) * time.Minute).Truncate(time.Minute), FPSSamples: 60, FPSMean: fps(i), FPSLow1: fps(i) - 3,
				MemorySamples: 60, MemoryMaxMB: 300 + float64(m), MemoryMeanMB: 300,
			})
		}
	}
	return src
}

func TestFleetIsWorstFirstFilteredAndPaged(t *testing.T) {
	now := testkit.BaseTime(t)
	src := fleetOf(now, 25, func(i int) string { return fmt.Sprintf("vr-%02d", i) },
		func(i int) float64 { return map[bool]float64{true: 60, false: 90}[i == 7] },
		func(i int) bool { return i == 20 })
	f := BuildFleet(src, now, time.Second, FleetQuery{Size: 10})
	if f.Pages != 3 || len(f.Rows) != 10 {
		t.Fatalf("pages %d, rows %d; want 3 pages of 10", f.Pages, len(f.Rows))
	}
	if f.Rows[0].Name != "vr-20" || f.Rows[0].State != StateDown || f.Rows[1].Name != "vr-07" || f.Rows[1].State != StateDegraded || f.Rows[2].State != StateOK {
		t.Errorf("first rows %s %s, %s %s, %s; want vr-20 down, vr-07 degraded, then ok", f.Rows[0].Name, f.Rows[0].State, f.Rows[1].Name, f.Rows[1].State, f.Rows[2].State)
	}
	if got := f.Rows[1].Why; got != "fps_low firing" {
		t.Errorf("vr-07 why = %q, want fps_low firing", got)
	}
	if len(f.Rows[0].FPSHour.Points) != 60 {
		t.Errorf("a row's hour of FPS has %d points, want 60", len(f.Rows[0].FPSHour.Points))
	}
	f = BuildFleet(src, now, time.Second, FleetQuery{Size: 10, Page: 9})
	if f.Page != 3 || len(f.Rows) != 5 {
		t.Errorf("page 9 of 3 gave page %d with %d rows; want the last page, 5 rows", f.Page, len(f.Rows))
	}
	f = BuildFleet(src, now, time.Second, FleetQuery{Filter: "DEGRADED"})
	if f.Total != 1 || f.Rows[0].Name != "vr-07" {
		t.Errorf("filter degraded matched %d rows; want vr-07 alone", f.Total)
	}
}

func TestSilencedAlertsMarkTheTargetInhibited(t *testing.T) {
	now := testkit.BaseTime(t)
	src := fleetOf(now, 1, func(int) string { return "main" }, func(int) float64 { return 90 }, func(int) bool { return false })
	src.alerts = []alert.Alert{{Target: "main", Name: "check_scene", State: alert.StateFiring, Silenced: true, StartsAt: now}}
	row := BuildFleet(src, now, time.Second, FleetQuery{}).Rows[0]
	if row.State != StateInhibited || row.Alerts[0].Mark != "silenced" {
		t.Errorf("state %s, mark %q; want inhibited, silenced", row.State, row.Alerts[0].Mark)
	}
	var b bytes.Buffer
	if err := RenderFleet(&b, BuildFleet(src, now, time.Second, FleetQuery{})); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `<span class="tag">silenced</span>`) {
		t.Error("the fleet page does not mark the silenced alert as such")
	}
}

// TestMemoryUnwatchedIsShown: a target whose memory rules are unknown
// (no source reports memory) shows memory unwatched and why, on the fleet
// page and its own, never a bare dash; memory read from /performance says
// so; memory from the stream is a figure alone.
func TestMemoryUnwatchedIsShown(t *testing.T) {
	now := testkit.BaseTime(t)
	names := []string{"stream", "polled", "unwatched"}
	src := fleetOf(now, 3, func(i int) string { return names[i] }, func(int) float64 { return 90 }, func(int) bool { return false })
	const why = "no memory: the stream carries none and /performance refused the token"
	rules := func(i int) []monitor.RuleState { return src.targets[i].Telemetry.(monitor.WatcherStatus).Rules }
	rules(1)[1].Source = monitor.MemoryFromPerformance.String()
	rules(2)[1] = monitor.RuleState{Rule: monitor.RuleMemoryHigh, State: monitor.RuleUnknown, Reason: why}

	var fleet bytes.Buffer
	if err := RenderFleet(&fleet, BuildFleet(src, now, time.Second, FleetQuery{})); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ target, want, not string }{
		{"stream", `<span class="now">300.0 MB</span>`, "unwatched"},
		{"polled", `<span class="now">300.0 MB <span class="tag">from /performance</span></span>`, "unwatched"},
		{"unwatched", `<span class="now"><span class="unwatched">unwatched</span> <span class="why">memory_high and memory_growth unknown: ` + why + `</span></span>`, "MB</span>"},
	} {
		cell := memoryCell(t, fleet.String(), tc.target)
		if !strings.Contains(cell, tc.want) || strings.Contains(cell, tc.not) {
			t.Errorf("fleet row %s, memory: %s\nwant %s and no %q", tc.target, cell, tc.want, tc.not)
		}
	}

	tp, ok := BuildTarget(context.Background(), src, "unwatched", now, time.Second)
	if !ok {
		t.Fatal("BuildTarget did not find the target")
	}
	var target bytes.Buffer
	if err := RenderTarget(&target, tp); err != nil {
		t.Fatal(err)
	}
	if want := `memory <span class="unwatched">unwatched</span> <span class="why">memory_high and memory_growth unknown: ` + why + `</span> ·`; !strings.Contains(target.String(), want) {
		t.Errorf("the target page does not show memory unwatched and why (%s)", want)
	}
}

// memoryCell is the memory figure of target's row on the fleet page, up
// to its chart.
func memoryCell(t *testing.T, page, target string) string {
	t.Helper()
	m := regexp.MustCompile(`data-target="` + regexp.QuoteMeta(target) + `">(?s:.*?)<td data-label="Memory, 1 h">(.*?)<svg`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no memory cell for %s on the fleet page", target)
	}
	return m[1]
}

// hostileSource has hostile text in every field a user, the config or an
// instance controls.
func hostileSource(now time.Time) *fakeSource {
	src := fleetOf(now, 1, func(int) string { return hostile }, func(int) float64 { return 60 }, func(int) bool { return false })
	ts := &src.targets[0]
	ts.Deployment.Version = hostile
	ts.Checks[4].Reason, ts.Checks[4].Observed, ts.Checks[4].Status = hostile, hostile, monitor.CheckFail
	src.alerts = []alert.Alert{{Target: hostile, Name: hostile, Severity: alert.Severity(hostile), State: alert.StateFiring, Summary: hostile, Reason: hostile, StartsAt: now, InhibitedBy: hostile, Inhibited: true}}
	m, err := labels.NewMatcher("target", labels.MatchEqual, hostile)
	if err != nil {
		panic(err)
	}
	src.silences = []alert.Silence{{ID: hostile, Matchers: labels.Matchers{m}, Comment: hostile, CreatedBy: hostile, EndsAt: now.Add(time.Hour)}}
	src.checks[hostile] = []store.CheckRecord{{Check: hostile, At: now, Result: hostile, Reason: hostile}}
	src.deps[hostile] = []store.Deployment{{ID: hostile, Target: hostile, Version: hostile, StartedAt: now, Source: hostile, Note: hostile}}
	src.reviews = []review.Review{{Target: hostile, DeploymentID: hostile, Version: hostile, Name: hostile, Verdict: review.Warn,
		Items: []review.Item{{Name: hostile, Title: hostile, Verdict: review.Warn, Figure: hostile, Note: hostile}}}}
	src.dead = []DeadLetter{{Sink: hostile, Reason: hostile, Summary: hostile, At: now}}
	return src
}

// tag is one element's start tag: text escaped by the template holds no
// raw "<", so every match is markup.
var tag = regexp.MustCompile(`<[a-zA-Z][^>]*>`)

// quoted is an attribute's quoted value.
var quoted = regexp.MustCompile(`"[^"]*"`)

// runsOrRestyles is what, in a tag, would run or restyle on the page: a
// script element other than the served file, an event handler, a
// javascript: URL, a style attribute or element, an image.
var runsOrRestyles = regexp.MustCompile(`(?i)^<script|\son[a-z]+\s*=|javascript:|\sstyle\s*=|^<style|^<img`)

func TestHostileTextIsShownAsText(t *testing.T) {
	now := testkit.BaseTime(t)
	src := hostileSource(now)
	var fleet, target bytes.Buffer
	if err := RenderFleet(&fleet, BuildFleet(src, now, time.Second, FleetQuery{})); err != nil {
		t.Fatal(err)
	}
	tp, ok := BuildTarget(context.Background(), src, hostile, now, time.Second)
	if !ok {
		t.Fatal("BuildTarget did not find the hostile target")
	}
	if err := RenderTarget(&target, tp); err != nil {
		t.Fatal(err)
	}
	for name, page := range map[string]string{"fleet": fleet.String(), "target": target.String()} {
		for _, m := range tag.FindAllString(page, -1) {
			bare := quoted.ReplaceAllString(m, `""`) // a quote in a value is escaped: what is left is markup
			if runsOrRestyles.MatchString(bare) && m != `<script src="/static/refresh.js" defer>` {
				t.Errorf("%s page holds the tag %q: hostile text reached the markup", name, m)
			}
		}
		if n := strings.Count(page, "&lt;script&gt;alert(1)&lt;/script&gt;"); n < 3 {
			t.Errorf("%s page shows the hostile text escaped %d times; want it in every field", name, n)
		}
	}
	if n := strings.Count(target.String(), "&lt;script&gt;alert(1)&lt;/script&gt;"); n < 16 {
		t.Errorf("target page shows the hostile text %d times; want every field (name, version, check, alert, silence, deployment and its note, review, dead letter)", n)
	}
}

func TestHandlerServesPagesUnderTheCSP(t *testing.T) {
	now := testkit.BaseTime(t)
	src := fleetOf(now, 3, func(i int) string { return fmt.Sprintf("vr %d/x", i) }, func(int) float64 { return 90 }, func(int) bool { return false })
	mux := http.NewServeMux()
	Register(mux, Options{Source: src, Now: func() time.Time { return now }})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for path, want := range map[string]int{"/": 200, "/targets/vr%201%2Fx": 200, "/targets/nope": 404, "/static/page.css": 200, "/static/refresh.js": 200, "/?page=x&q=%3Cb%3E": 200} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s = %d, want %d", path, resp.StatusCode, want)
		}
		if want == 200 && strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") && resp.Header.Get("Content-Security-Policy") != CSP {
			t.Errorf("GET %s: CSP %q, want %q", path, resp.Header.Get("Content-Security-Policy"), CSP)
		}
	}
}

// BenchmarkFleetPage builds and renders the first page of a 1,000-target
// fleet (the bound: 200 ms).
func BenchmarkFleetPage(b *testing.B) {
	now := testkit.BaseTime(b)
	src := fleetOf(now, 1000, func(i int) string { return fmt.Sprintf("vr-%04d", i) },
		func(i int) float64 { return 60 + float64(i%40) }, func(i int) bool { return i%97 == 0 })
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		if err := RenderFleet(&buf, BuildFleet(src, now, time.Second, FleetQuery{})); err != nil {
			b.Fatal(err)
		}
	}
	if per := b.Elapsed() / time.Duration(b.N); per > 200*time.Millisecond {
		b.Fatalf("the fleet page of 1,000 targets took %s, over 200ms", per)
	}
}
