package review

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/store"
)

// TestServiceOnDemand: a review asked for before it is due covers the
// deployment's start to now and is marked partial; it is neither
// delivered nor marked, so the scheduled one still goes out once.
func TestServiceOnDemand(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wall := &svcWall{}
		out := &svcDeliverer{wall: wall}
		h := svcStart(t, "", wall, out, nil)
		d := h.deploy("7.0.0")
		h.runUntil(d.StartedAt, 30*time.Minute)

		ctx := context.Background()
		r, err := h.svc.OnDemand(ctx, "vr", "", "hour-4")
		if err != nil {
			t.Fatal(err)
		}
		if !r.Partial || r.DeploymentID != d.ID || r.Name != "hour-4" || !r.DueAt.Equal(d.StartedAt.Add(4*time.Hour)) ||
			!r.ComputedAt.Equal(wall.Now()) || r.Late {
			t.Errorf("OnDemand = %+v; want hour-4 of %s, partial, computed now", r, d.ID)
		}
		if byID, err := h.svc.OnDemand(ctx, "vr", d.ID, "hour-4"); err != nil || byID.DeploymentID != d.ID {
			t.Errorf("OnDemand by ID = %+v, %v", byID, err)
		}
		if m, _, _ := loadMarkers(h.st, d.ID); len(m) != 0 || len(out.all()) != 0 {
			t.Errorf("OnDemand left markers %v or deliveries %q", m, out.names())
		}

		h.runUntil(d.StartedAt, 4*time.Hour+time.Minute)
		if names := out.names(); names != "hour-1 hour-4" {
			t.Errorf("delivered %q, want hour-1 hour-4", names)
		}
		// After its due time an on-demand review is whole.
		if r, err := h.svc.OnDemand(ctx, "vr", "", "hour-1"); err != nil || r.Partial {
			t.Errorf("OnDemand(hour-1) after due = partial %t, %v; want whole", r.Partial, err)
		}

		for _, tc := range []struct{ name, target, dep, review string }{
			{"unknown target", "nope", "", "hour-1"},
			{"unknown deployment", "vr", "nope", "hour-1"},
			{"unknown review", "vr", "", "hour-2"},
		} {
			if _, err := h.svc.OnDemand(ctx, tc.target, tc.dep, tc.review); !errors.Is(err, ErrNotFound) {
				t.Errorf("%s: OnDemand err = %v, want ErrNotFound", tc.name, err)
			}
		}
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := h.svc.OnDemand(cancelled, "vr", "", "hour-1"); !errors.Is(err, context.Canceled) {
			t.Errorf("OnDemand with a cancelled context: %v", err)
		}
	})
}

// TestServiceSupersededDeployment: when a new deployment starts, the old
// one's reviews already due are delivered, the later ones never (they
// would judge the new version's data), and the new one's run their course.
func TestServiceSupersededDeployment(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wall := &svcWall{}
		out := &svcDeliverer{wall: wall}
		h := svcStart(t, "", wall, out, nil)
		d1 := h.deploy("8.0.0")
		h.runUntil(d1.StartedAt, 2*time.Hour)
		d2 := h.deploy("8.0.1")
		h.runUntil(d1.StartedAt, 27*time.Hour)

		var got []string
		for _, x := range out.all() {
			id := map[string]string{d1.ID: "d1", d2.ID: "d2"}[x.r.DeploymentID]
			got = append(got, id+"/"+x.r.Name)
		}
		want := "d1/hour-1 d2/hour-1 d2/hour-4 d2/hour-24"
		if g := strings.Join(got, " "); g != want {
			t.Errorf("delivered %q, want %q", g, want)
		}
		m, _, _ := loadMarkers(h.st, d1.ID)
		if m["hour-4"] == nil || m["hour-4"].State != stateSuperseded || m["hour-24"] == nil || m["hour-24"].State != stateSuperseded {
			t.Errorf("markers of the superseded deployment: %+v %+v", m["hour-4"], m["hour-24"])
		}
	})
}

// TestServiceVRWithoutRestart: the service hands the deployment's
// instance start to the review: a deployment declared on a running
// instance reads "not observed" in its delivered hour-1 review, one the
// instance's start began warns when no VR event followed.
func TestServiceVRWithoutRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wall := &svcWall{}
		out := &svcDeliverer{wall: wall}
		h := svcStart(t, "", wall, out, nil)
		d := h.deploy("9.0.0") // through the API; the healthy minutes have no VR event
		h.runUntil(d.StartedAt, time.Hour+2*time.Minute)
		got := svcByName(t, out.all())["hour-1"]
		if it := itemOf(t, got.r, "vr_initialized"); it.Verdict != Pass || it.Figure != "not observed (the instance was not restarted)" {
			t.Errorf("delivered hour-1 vr_initialized: %s %q (%s)", it.Verdict, it.Figure, it.Note)
		}

		now := wall.Now()
		if _, err := h.st.StartDeployment(store.Deployment{Target: "vr", Version: "9.0.1", Source: store.SourceRestart, StartedAt: now, InstanceStartedAt: now}); err != nil {
			t.Fatal(err)
		}
		h.runFor(5 * time.Minute)
		r, err := h.svc.OnDemand(context.Background(), "vr", "", "hour-1")
		if err != nil {
			t.Fatal(err)
		}
		if it := itemOf(t, r, "vr_initialized"); it.Verdict != Warn || it.Figure != "none seen" {
			t.Errorf("on-demand vr_initialized after the instance's start: %s %q (%s)", it.Verdict, it.Figure, it.Note)
		}
	})
}

// TestServiceLatest: without a review named, the latest one that fell
// due is shown as it was delivered, or computed now when it was not
// delivered; before the first falls due, the first, computed now.
func TestServiceLatest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		wall := &svcWall{}
		out := &svcDeliverer{wall: wall}
		h := svcStart(t, "", wall, out, nil)
		ctx := context.Background()
		d := h.deploy("10.0.0")
		h.runUntil(d.StartedAt, 20*time.Minute)

		r, err := h.svc.Latest(ctx, "vr", "")
		if err != nil {
			t.Fatal(err)
		}
		if r.Name != "hour-1" || !r.Partial || !r.ComputedAt.Equal(wall.Now()) {
			t.Errorf("before any is due: %s, partial %t, computed at +%s; want hour-1, partial, computed now", r.Name, r.Partial, r.ComputedAt.Sub(d.StartedAt))
		}

		// hour-1 delivered: shown as delivered, computed when it went out.
		h.runUntil(d.StartedAt, 2*time.Hour)
		delivered := svcByName(t, out.all())["hour-1"]
		if r, err = h.svc.Latest(ctx, "vr", d.ID); err != nil {
			t.Fatal(err)
		}
		if r.Name != "hour-1" || r.Partial || !r.ComputedAt.Equal(delivered.r.ComputedAt) {
			t.Errorf("after hour-1 went out: %s, partial %t, computed at +%s; want hour-1 as delivered at +%s",
				r.Name, r.Partial, r.ComputedAt.Sub(d.StartedAt), delivered.r.ComputedAt.Sub(d.StartedAt))
		}

		// hour-4 fell due but cannot be delivered: computed now, whole.
		out.mu.Lock()
		out.fails = 1 << 20
		out.mu.Unlock()
		h.runUntil(d.StartedAt, 4*time.Hour+5*time.Minute)
		if r, err = h.svc.Latest(ctx, "vr", ""); err != nil {
			t.Fatal(err)
		}
		if r.Name != "hour-4" || r.Partial || !r.ComputedAt.Equal(wall.Now()) || len(r.Items) != 12 {
			t.Errorf("hour-4 due, undelivered: %s, partial %t, %d items, computed at +%s; want hour-4, whole, computed now",
				r.Name, r.Partial, len(r.Items), r.ComputedAt.Sub(d.StartedAt))
		}

		if _, err := h.svc.Latest(ctx, "nope", ""); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown target: %v, want ErrNotFound", err)
		}
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := h.svc.Latest(cancelled, "vr", ""); !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled context: %v", err)
		}
	})
}
