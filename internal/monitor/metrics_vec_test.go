package monitor

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// TestSeriesVecMatchesClientGolang applies the same writes and deletions
// to a GaugeVec and a CounterVec of this package and to client_golang's,
// and wants the same exposition; and it wants Collect to send the series
// in the order the registry sorts them in, which is what makes a scrape
// fast.
func TestSeriesVecMatchesClientGolang(t *testing.T) {
	ours, theirs := prometheus.NewPedanticRegistry(), prometheus.NewPedanticRegistry()
	g := newGaugeVec("test_gauge", "A gauge.", "target", "check")
	c := newCounterVec("test_total", "A counter.", "target")
	cg := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "test_gauge", Help: "A gauge."}, []string{"target", "check"})
	cc := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "test_total", Help: "A counter."}, []string{"target"})
	ours.MustRegister(g, c)
	theirs.MustRegister(cg, cc)

	for i := range 300 {
		target, check := fmt.Sprintf("vr-%d", (i*37)%50), fmt.Sprintf("c%d", i%7)
		g.WithLabelValues(target, check).Set(float64(i))
		cg.WithLabelValues(target, check).Set(float64(i))
		g.WithLabelValues(target, check).Add(0.5)
		cg.WithLabelValues(target, check).Add(0.5)
		c.WithLabelValues(target).Inc()
		cc.WithLabelValues(target).Inc()
		c.WithLabelValues(target).Add(2)
		cc.WithLabelValues(target).Add(2)
	}
	for _, v := range []interface{ DeleteLabelValues(...string) bool }{g, cg} {
		if !v.DeleteLabelValues("vr-3", "c1") || v.DeleteLabelValues("vr-3", "c1") {
			t.Error("DeleteLabelValues: want true once, then false")
		}
	}
	for _, v := range []interface {
		DeletePartialMatch(prometheus.Labels) int
	}{g, cg, c, cc} {
		v.DeletePartialMatch(prometheus.Labels{"target": "vr-7"})
	}
	if n, m := g.DeletePartialMatch(prometheus.Labels{"check": "c2"}), cg.DeletePartialMatch(prometheus.Labels{"check": "c2"}); n != m || n == 0 {
		t.Errorf("DeletePartialMatch{check=c2} deleted %d, client_golang %d", n, m)
	}

	if got, want := exposition(t, ours), exposition(t, theirs); got != want {
		t.Errorf("exposition differs from client_golang's:\n%s\nwant:\n%s", got, want)
	}

	wantPairs(t, g.seriesVec)
	wantPairs(t, c.seriesVec)

	ch := make(chan prometheus.Metric, 1000)
	g.Collect(ch)
	close(ch)
	var prev string
	for m := range ch {
		var d dto.Metric
		if err := m.Write(&d); err != nil {
			t.Fatal(err)
		}
		cur := d.GetLabel()[0].GetValue() + "\xff" + d.GetLabel()[1].GetValue() // check, then target
		if cur <= prev {
			t.Fatalf("Collect sent %q after %q: not in label order", cur, prev)
		}
		prev = cur
	}
}

// wantPairs checks that v's shared label pairs are those its series use,
// each counted once per user: a deleted target's pairs go with it.
func wantPairs(t *testing.T, v *seriesVec) {
	t.Helper()
	v.mu.RLock()
	defer v.mu.RUnlock()
	uses := map[pairKey]int{}
	for _, s := range v.sorted {
		for _, lp := range s.labels {
			k := pairKey{lp.GetName(), lp.GetValue()}
			if p := v.pairs[k]; p == nil || p.lp != lp {
				t.Errorf("%s: series uses pair %v, not the shared one", v.desc, k)
			}
			uses[k]++
		}
	}
	if len(uses) != len(v.pairs) {
		t.Errorf("%s: %d shared pairs, %d in use", v.desc, len(v.pairs), len(uses))
	}
	for k, p := range v.pairs {
		if p.refs != uses[k] {
			t.Errorf("%s: pair %v counts %d users, has %d", v.desc, k, p.refs, uses[k])
		}
	}
}

func exposition(t *testing.T, g prometheus.Gatherer) string {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// TestCounterVecRefusesToDecrease: a counter of a CounterVec panics on a
// negative Add, as client_golang's does.
func TestCounterVecRefusesToDecrease(t *testing.T) {
	c := newCounterVec("test_total", "A counter.", "target").WithLabelValues("vr-1")
	defer func() {
		if recover() == nil {
			t.Error("Add(-1) on a counter did not panic")
		}
	}()
	c.Add(-1)
}
