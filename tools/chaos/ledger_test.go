package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/alert"
	"github.com/spacetime-vr/spacetime-watch/internal/alert/slack"
	"github.com/spacetime-vr/spacetime-watch/internal/alert/slackfake"
	"github.com/spacetime-vr/spacetime-watch/internal/review"
	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// ledgerAt builds ledgers on a time line: at(s) is s seconds after the base.
func ledgerAt(t *testing.T) func(s int) time.Time {
	base := testkit.BaseTime(t)
	return func(s int) time.Time { return base.Add(time.Duration(s) * time.Second) }
}

func TestReconcile(t *testing.T) {
	at := ledgerAt(t)
	fps := Episode{Target: "sim-0", Alert: "fps_low", Start: at(0), End: at(30), MustFire: true}
	next := Episode{Target: "sim-0", Alert: "memory_high", Start: at(60), End: at(70)}
	n := func(s int, alert, state string) Notice {
		return Notice{Target: "sim-0", Alert: alert, State: state, At: at(s)}
	}
	for _, tc := range []struct {
		name              string
		ledger            Ledger
		lost, dups, flaps int
		problem           string // a substring of the one problem; "" for none
	}{{
		name:   "firing and resolved",
		ledger: Ledger{Episodes: []Episode{fps}, Notices: []Notice{n(6, "fps_low", stateFiring), n(35, "fps_low", stateResolved)}},
	}, {
		name:    "a must-fire fault never notified",
		ledger:  Ledger{Episodes: []Episode{fps}},
		lost:    1,
		problem: "lost: fps_low on sim-0 in the fps_low fault of",
	}, {
		name:   "a short fault that did not fire",
		ledger: Ledger{Episodes: []Episode{next}},
	}, {
		name:    "a resolution that never came",
		ledger:  Ledger{Episodes: []Episode{fps}, Notices: []Notice{n(6, "fps_low", stateFiring)}},
		lost:    1,
		problem: "fired and its resolution never came",
	}, {
		name:    "a side alert left firing",
		ledger:  Ledger{Episodes: []Episode{next}, Notices: []Notice{n(62, "check_health", stateFiring)}},
		lost:    1,
		problem: "check_health on sim-0 in the memory_high fault",
	}, {
		name: "a resolution delayed past the next fault's start",
		ledger: Ledger{Episodes: []Episode{fps, next}, Notices: []Notice{
			n(6, "fps_low", stateFiring), n(65, "fps_low", stateResolved)}},
	}, {
		name: "one duplicate each way is allowed",
		ledger: Ledger{Episodes: []Episode{fps}, Notices: []Notice{
			n(6, "fps_low", stateFiring), n(9, "fps_low", stateFiring),
			n(35, "fps_low", stateResolved), n(37, "fps_low", stateResolved)}},
		dups: 2,
	}, {
		name: "two duplicates are not",
		ledger: Ledger{Episodes: []Episode{fps}, Notices: []Notice{
			n(6, "fps_low", stateFiring), n(7, "fps_low", stateFiring), n(8, "fps_low", stateFiring),
			n(35, "fps_low", stateResolved)}},
		dups:    2,
		problem: "notified firing 3 times",
	}, {
		name: "resolved and firing again within one fault is a flap",
		ledger: Ledger{Episodes: []Episode{fps}, Notices: []Notice{
			n(6, "fps_low", stateFiring), n(12, "fps_low", stateResolved),
			n(18, "fps_low", stateFiring), n(35, "fps_low", stateResolved)}},
		dups:  2,
		flaps: 1,
	}, {
		name: "firing again in the next fault is no duplicate",
		ledger: Ledger{Episodes: []Episode{fps, {Target: "sim-0", Alert: "fps_low", Start: at(60), End: at(90), MustFire: true}},
			Notices: []Notice{n(6, "fps_low", stateFiring), n(35, "fps_low", stateResolved), n(66, "fps_low", stateFiring), n(95, "fps_low", stateResolved)}},
	}, {
		name: "an alert exempt from resolving",
		ledger: Ledger{NoResolve: []string{"StateRecovered"},
			Notices: []Notice{{Target: "spacetime-watch", Alert: "StateRecovered", State: stateFiring, At: at(1)}}},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			v := Reconcile(tc.ledger)
			checkVerdict(t, v, tc.lost, tc.dups, tc.problem)
			if v.Flaps != tc.flaps {
				t.Errorf("flaps %d, want %d", v.Flaps, tc.flaps)
			}
		})
	}
}

func TestReconcileReviews(t *testing.T) {
	at := ledgerAt(t)
	r := func(s int, dep string) ReviewNotice {
		return ReviewNotice{Target: "sim-1", Review: "minute-3", Deployment: dep, At: at(s)}
	}
	due := []ReviewDue{{Target: "sim-1", Review: "minute-3", Deployments: 2}}
	for _, tc := range []struct {
		name       string
		ledger     Ledger
		lost, dups int
		problem    string
	}{{
		name:   "each deployment's review delivered",
		ledger: Ledger{ReviewsDue: due, Reviews: []ReviewNotice{r(180, "d1"), r(240, "d2")}},
	}, {
		name:    "one deployment's review missing",
		ledger:  Ledger{ReviewsDue: due, Reviews: []ReviewNotice{r(180, "d1"), r(190, "d1")}, Disruptions: []time.Time{at(185)}},
		lost:    1,
		dups:    1,
		problem: "delivered for 1 deployments, 2 due",
	}, {
		name:    "delivered twice with no kill between",
		ledger:  Ledger{ReviewsDue: due, Reviews: []ReviewNotice{r(180, "d1"), r(190, "d1"), r(240, "d2")}, Disruptions: []time.Time{at(200)}},
		dups:    1,
		problem: "delivered again at",
	}} {
		t.Run(tc.name, func(t *testing.T) { checkVerdict(t, Reconcile(tc.ledger), tc.lost, tc.dups, tc.problem) })
	}
}

// checkVerdict checks v's figures, and that it names one problem
// containing problem (none when problem is "").
func checkVerdict(t *testing.T, v Verdict, lost, dups int, problem string) {
	t.Helper()
	if v.Lost != lost || v.Duplicates != dups {
		t.Errorf("lost %d, duplicates %d; want %d, %d (problems %q)", v.Lost, v.Duplicates, lost, dups, v.Problems)
	}
	switch {
	case problem == "" && len(v.Problems) > 0:
		t.Errorf("problems %q, want none", v.Problems)
	case problem != "" && (len(v.Problems) != 1 || !strings.Contains(v.Problems[0], problem)):
		t.Errorf("problems %q, want one containing %q", v.Problems, problem)
	}
}

// TestReadSlack reads back what the Slack sink renders: a group message
// with a firing and a resolved alert, and a review.
func TestReadSlack(t *testing.T) {
	at := ledgerAt(t)
	rendered := func(m alert.Message) slackfake.Message {
		t.Helper()
		p, err := slack.Render(m, slack.RenderOptions{})
		if err != nil {
			t.Fatal(err)
		}
		blocks, err := json.Marshal(p.Blocks)
		if err != nil {
			t.Fatal(err)
		}
		return slackfake.Message{Kind: slackfake.Webhook, Text: p.Text, Blocks: blocks, Received: at(5)}
	}
	group := rendered(alert.Message{ID: "m1", Kind: alert.KindAlerts, Target: "sim-2", CreatedAt: at(4), Alerts: []alert.Alert{
		{Target: "sim-2", Name: "fps_low", Severity: alert.SeverityWarning, State: alert.StateFiring, StartsAt: at(0)},
		{Target: "sim-2", Name: "check_instance_up", Severity: alert.SeverityCritical, State: alert.StateResolved, StartsAt: at(0), EndsAt: at(3)},
	}})
	rv := review.Review{Target: "sim-2", DeploymentID: "sim-2-dep", Version: "1.0.0", Name: "minute-3", StartedAt: at(-180), DueAt: at(0), ComputedAt: at(1), Verdict: review.Pass}
	rev := rendered(alert.Message{ID: "m2", Kind: alert.KindText, Title: review.Title(rv), Text: review.Body(rv), CreatedAt: at(4)})

	notices, reviews, problems := readSlack([]slackfake.Message{group, rev})
	if len(problems) > 0 {
		t.Fatalf("problems %q", problems)
	}
	want := []Notice{
		{Target: "sim-2", Alert: "check_instance_up", State: stateResolved, At: at(5)},
		{Target: "sim-2", Alert: "fps_low", State: stateFiring, At: at(5)},
	}
	slices.SortFunc(notices, func(a, b Notice) int { return strings.Compare(a.Alert, b.Alert) })
	if !slices.Equal(notices, want) {
		t.Errorf("notices %+v, want %+v", notices, want)
	}
	if wantR := []ReviewNotice{{Target: "sim-2", Review: "minute-3", Deployment: "sim-2-dep", At: at(5)}}; !slices.Equal(reviews, wantR) {
		t.Errorf("reviews %+v, want %+v", reviews, wantR)
	}
	if _, _, problems := readSlack([]slackfake.Message{{TS: "1.2", Text: "hello"}}); len(problems) != 1 {
		t.Errorf("a message of no known shape: problems %q, want one", problems)
	}
}
