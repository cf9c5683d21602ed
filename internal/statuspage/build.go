package statuspage

import (
	"cmp"
	"context"
	"math"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
	"github.com/spacetime-vr/spacetime-watch/internal/config"
	"github.com/spacetime-vr/spacetime-watch/internal/monitor"
	"github.com/spacetime-vr/spacetime-watch/internal/review"
	"github.com/spacetime-vr/spacetime-watch/internal/store"
)

// maxDeployments bounds the deployments (with their reviews) a target page
// shows.
const maxDeployments = 5

// FleetQuery is what the fleet view was asked for.
type FleetQuery struct {
	// Filter keeps the targets whose name, state, version or firing alert
	// contains it (case-insensitive).
	Filter string
	// Page is 1-based; out of range is clamped.
	Page int
	// Size is the rows per page. Default config.DefaultStatusPageSize.
	Size int
}

// BuildFleet builds the fleet view at now: every target's state, sorted
// worst first, then by name; the series are read for the page's rows only.
func BuildFleet(src Source, now time.Time, refresh time.Duration, q FleetQuery) Fleet {
	size := cmp.Or(q.Size, config.DefaultStatusPageSize)
	byTarget := alertsByTarget(src.Alerts())
	targets := src.Targets()
	f := Fleet{Now: now, Refresh: refresh, Filter: q.Filter, All: len(targets)}
	rows := make([]Row, 0, len(targets))
	needle := strings.ToLower(strings.TrimSpace(q.Filter))
	for _, ts := range targets {
		row := baseRow(ts, byTarget[ts.Name], now)
		if needle != "" && !row.matches(needle) {
			continue
		}
		rows = append(rows, row)
	}
	slices.SortStableFunc(rows, func(a, b Row) int {
		return cmp.Or(cmp.Compare(a.State.rank(), b.State.rank()), strings.Compare(a.Name, b.Name))
	})
	counts := map[State]int{}
	for _, r := range rows {
		counts[r.State]++
	}
	for _, s := range []State{StateDown, StateDegraded, StateInhibited, StateGaps, StateOK} {
		if counts[s] > 0 {
			f.Counts = append(f.Counts, StateCount{State: s, N: counts[s]})
		}
	}
	f.Total = len(rows)
	f.Pages = max(1, (len(rows)+size-1)/size)
	f.Page = min(max(q.Page, 1), f.Pages)
	lo := (f.Page - 1) * size
	f.Rows = rows[lo:min(lo+size, len(rows))]
	for i := range f.Rows {
		f.Rows[i].FPSHour, f.Rows[i].MemoryHour, _ = series(src, f.Rows[i].Name, now, time.Hour)
	}
	if pending, dead, err := src.Outbox(); err == nil {
		for _, n := range pending {
			f.OutboxPending += n
		}
		f.DeadLetters = len(dead)
	}
	return f
}

// BuildTarget builds name's page at now; false when no target has that name.
func BuildTarget(ctx context.Context, src Source, name string, now time.Time, refresh time.Duration) (Target, bool) {
	targets := src.Targets() // every target's status: read once
	i := slices.IndexFunc(targets, func(ts monitor.TargetStatus) bool { return ts.Name == name })
	if i < 0 {
		return Target{}, false
	}
	ts := targets[i]
	all := src.Alerts()
	t := Target{
		Now: now, Refresh: refresh, Row: baseRow(ts, alertsByTarget(all)[name], now),
	}
	th := src.Thresholds(name)
	t.FPSBandLow, t.FPSBandHigh, t.MemoryLimit = th.FPSMin, th.FPSMax, th.MemoryMaxMB
	t.Row.FPSHour, t.Row.MemoryHour, _ = series(src, name, now, time.Hour)
	t.FPSDay, t.MemoryDay, _ = series(src, name, now, 24*time.Hour)
	if w, ok := ts.Telemetry.(monitor.WatcherStatus); ok {
		for _, r := range w.Rules {
			if r.Rule == monitor.RuleMemoryGrowth && r.State == monitor.RuleFiring {
				t.Projection = growthProjection(all, name)
			}
		}
	}
	t.Strip, t.CheckNames, t.Rounds = history(src, name, now)
	for _, a := range all {
		if a.Target == name {
			t.Timeline = append(t.Timeline, alertCell(a))
		}
	}
	slices.SortFunc(t.Timeline, func(a, b AlertCell) int { return b.StartsAt.Compare(a.StartsAt) })
	if deps, err := src.Deployments(name); err == nil {
		for i, d := range deps {
			if i == maxDeployments {
				break
			}
			dv := DeploymentView{DeploymentCell: deploymentCell(d.ID, d.Version, d.Source, d.StartedAt, now)}
			dv.Note = d.Note
			revs, computed, err := src.Reviews(ctx, name, d.ID)
			if err == nil {
				dv.Computed = computed
				for _, r := range revs {
					dv.Reviews = append(dv.Reviews, reviewView(r))
				}
			}
			t.Deployments = append(t.Deployments, dv)
		}
	}
	for _, s := range src.Silences() {
		if silenceConcerns(s, name) {
			t.Silences = append(t.Silences, SilenceCell{
				ID: s.ID, Matchers: s.Matchers.String(), Comment: s.Comment, CreatedBy: s.CreatedBy,
				State: string(s.State), StartsAt: s.StartsAt, EndsAt: s.EndsAt,
			})
		}
	}
	if pending, dead, err := src.Outbox(); err == nil {
		t.Pending, t.DeadLetters = pending, dead
	}
	return t, true
}

// baseRow is a target's row without its series.
func baseRow(ts monitor.TargetStatus, alerts []alert.Alert, now time.Time) Row {
	row := Row{Name: ts.Name, Telemetry: "not watched"}
	gap := false
	for _, c := range ts.Checks {
		row.Checks = append(row.Checks, CheckCell{
			Name: string(c.Check), Result: string(c.Status), Observed: c.Observed,
			Expected: c.Expected, Reason: c.Reason, KnownGap: c.KnownGap,
		})
		gap = gap || c.KnownGap
	}
	var firingRules []string
	if w, ok := ts.Telemetry.(monitor.WatcherStatus); ok {
		row.Telemetry, row.TelemetryConnected = w.State.String(), w.Connected
		for _, r := range w.Rules {
			switch {
			case r.Rule == monitor.RuleFPSLow && r.HasValue:
				row.FPS, row.HasFPS = r.Value, true
			case r.Rule == monitor.RuleMemoryHigh && r.State == monitor.RuleUnknown:
				row.MemoryUnwatched = r.Reason
			case r.Rule == monitor.RuleMemoryHigh && r.HasValue:
				row.MemoryMB, row.HasMemory = r.Value, true
				if r.Source == monitor.MemoryFromPerformance.String() {
					row.MemoryFrom = "/performance"
				}
			}
			if r.State == monitor.RuleFiring {
				firingRules = append(firingRules, r.Rule)
			}
		}
	}
	if ts.Deployment != nil {
		d := deploymentCell(ts.Deployment.ID, ts.Deployment.Version, ts.Deployment.Source, ts.Deployment.StartedAt, now)
		row.Deployment = &d
	}
	var loud, muted []string
	for _, a := range alerts {
		row.Alerts = append(row.Alerts, alertCell(a))
		if a.State != alert.StateFiring {
			continue
		}
		if a.Silenced || a.Inhibited {
			muted = append(muted, a.Name)
		} else {
			loud = append(loud, a.Name)
		}
	}
	failing := make([]string, 0, len(ts.Failing))
	for _, c := range ts.Failing {
		failing = append(failing, string(c))
	}
	switch {
	case slices.Contains(ts.Failing, config.CheckInstanceUp):
		row.State, row.Why = StateDown, "instance_up failing"
	case len(firingRules) > 0 || len(loud) > 0 || len(failing) > 0:
		row.State = StateDegraded
		row.Why = strings.Join(slices.Compact(slices.Sorted(slices.Values(append(append(firingRules, loud...), failing...)))), ", ") + " firing"
	case len(muted) > 0:
		row.State, row.Why = StateInhibited, strings.Join(muted, ", ")+" silenced or inhibited"
	case gap:
		row.State, row.Why = StateGaps, "known gaps skipped"
	default:
		row.State = StateOK
	}
	return row
}

// matches reports whether the row's name, state, version or an alert
// contains needle (lower case).
func (r Row) matches(needle string) bool {
	hay := []string{r.Name, string(r.State), r.Why}
	if r.Deployment != nil {
		hay = append(hay, r.Deployment.Version)
	}
	for _, h := range hay {
		if strings.Contains(strings.ToLower(h), needle) {
			return true
		}
	}
	return false
}

func alertsByTarget(all []alert.Alert) map[string][]alert.Alert {
	out := make(map[string][]alert.Alert)
	for _, a := range all {
		out[a.Target] = append(out[a.Target], a)
	}
	return out
}

func alertCell(a alert.Alert) AlertCell {
	c := AlertCell{
		Name: a.Name, Severity: string(a.Severity), State: string(a.State), Summary: a.Summary,
		Reason: a.Reason, StartsAt: a.StartsAt, EndsAt: a.EndsAt,
	}
	switch {
	case a.Silenced:
		c.Mark = "silenced"
	case a.Inhibited:
		c.Mark, c.InhibitedBy = "inhibited", a.InhibitedBy
	case a.Held:
		c.Mark = "held by the deployment grace"
	}
	return c
}

func deploymentCell(id, version, source string, started, now time.Time) DeploymentCell {
	return DeploymentCell{ID: id, Version: version, Source: source, StartedAt: started, Age: now.Sub(started)}
}

// growthProjection is the memory_growth alert's reason (it carries the
// projected time to the ceiling).
func growthProjection(all []alert.Alert, target string) string {
	for _, a := range all {
		if a.Target == target && a.Name == monitor.RuleMemoryGrowth {
			return a.Reason
		}
	}
	return "memory growing (the alert is not tracked yet)"
}

// silenceConcerns reports whether s can silence an alert of target.
func silenceConcerns(s alert.Silence, target string) bool {
	for _, m := range s.Matchers {
		if m.Name == "target" && !m.Matches(target) {
			return false
		}
	}
	return true
}

// series reads the FPS (mean, 1% low) and memory (max) per minute over the
// span ending at now.
func series(src Source, target string, now time.Time, span time.Duration) (fps, mem Series, err error) {
	from := now.Add(-span).Truncate(time.Minute)
	fps, mem = Series{From: from, To: now}, Series{From: from, To: now}
	minutes, err := src.Minutes(target, from, now.Add(time.Minute))
	if err != nil {
		return fps, mem, err
	}
	for _, m := range minutes {
		if m.FPSSamples > 0 {
			fps.Points = append(fps.Points, Point{At: m.At, Value: m.FPSMean, Low: m.FPSLow1})
		}
		if m.MemorySamples > 0 {
			mem.Points = append(mem.Points, Point{At: m.At, Value: m.MemoryMaxMB, Low: math.NaN()})
		}
	}
	return fps, mem, nil
}

// StripBuckets is how many slices of time the 24-hour check strip has:
// 5 minutes each, the default check interval.
const StripBuckets = 288

// maxRounds bounds the rounds listed in full on a target's page.
const maxRounds = 30

// history reads the last 24 h of check results: the strip (each check's
// worst result per slice of time, and its counts) and the latest rounds
// (results recorded at the same instant), newest first.
func history(src Source, target string, now time.Time) (strip []StripRow, names []string, latest []Round) {
	from := now.Add(-24 * time.Hour)
	recs, err := src.CheckHistory(target, from)
	if err != nil || len(recs) == 0 {
		return nil, nil, nil
	}
	idx := map[string]int{}
	for _, r := range recs {
		if _, ok := idx[r.Check]; !ok {
			idx[r.Check] = len(names)
			names = append(names, r.Check)
			strip = append(strip, StripRow{Check: r.Check, Cells: make([]string, StripBuckets)})
		}
	}
	slice := 24 * time.Hour / StripBuckets
	for _, r := range recs {
		row, word := &strip[idx[r.Check]], resultWord(r)
		switch word {
		case store.ResultPass:
			row.Pass++
		case store.ResultFail:
			row.Fail++
			if r.At.After(row.LastFail) {
				row.LastFail = r.At
			}
		default:
			row.Skipped++
		}
		if b := int(r.At.Sub(from) / slice); b >= 0 && b < StripBuckets && worseResult(word, row.Cells[b]) {
			row.Cells[b] = word
		}
	}
	for i := len(recs) - 1; i >= 0 && len(latest) <= maxRounds; i-- {
		r := recs[i]
		if n := len(latest); n == 0 || !latest[n-1].At.Equal(r.At) {
			latest = append(latest, Round{At: r.At, Results: make([]string, len(names))})
		}
		latest[len(latest)-1].Results[idx[r.Check]] = resultWord(r)
	}
	return strip, names, latest[:min(len(latest), maxRounds)]
}

// worseResult reports whether result a outranks b in a strip's slice:
// fail, then pass, then skipped, then none.
func worseResult(a, b string) bool {
	rank := func(s string) int {
		switch s {
		case store.ResultFail:
			return 3
		case store.ResultPass:
			return 2
		case "":
			return 0
		}
		return 1
	}
	return rank(a) > rank(b)
}

func resultWord(r store.CheckRecord) string {
	if r.Result == "" {
		return "skipped"
	}
	return r.Result
}

func reviewView(r review.Review) ReviewView {
	v := ReviewView{
		Name: r.Name, Title: review.Title(r), Verdict: string(r.Verdict),
		MarkdownURL: "/api/v1/reviews?" + url.Values{"target": {r.Target}, "deployment": {r.DeploymentID}, "review": {r.Name}}.Encode(),
	}
	for _, it := range r.Items {
		v.Items = append(v.Items, ReviewItem{Name: it.Title, Verdict: string(it.Verdict), Figure: it.Figure, Note: it.Note})
	}
	return v
}
