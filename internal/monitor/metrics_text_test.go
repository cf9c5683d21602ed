package monitor

import (
	"bufio"
	"bytes"
	"math"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// TestWriteTextMatchesTheRegistry: every per-target family written by
// WriteText reads, byte for byte, as client_golang's registry and text
// encoder write it: labels sorted by name, series by label values, values
// and escapes as the encoder formats them.
func TestWriteTextMatchesTheRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	for i, target := range []string{"beta", "alpha", `quote"back\slash`, "line\nfeed", "ünïcode"} {
		m.Up.WithLabelValues(target).Set([]float64{1, 0, -1, math.NaN(), math.Inf(1)}[i])
		m.FPS.WithLabelValues(target).Set([]float64{89.25, 1e-7, 123456789012, math.Inf(-1), -0.5}[i])
		m.CheckSuccess.WithLabelValues(target, "health").Set(1)
		m.CheckSuccess.WithLabelValues(target, "auth").Set(0)
		m.RuleState.WithLabelValues(target, "fps_low", "pending").Set(1)
		m.TelemetryFrames.WithLabelValues(target).Add(float64(1000 * i))
	}
	m.Up.DeleteLabelValues("beta")

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	families := map[string]TextFamily{}
	for _, f := range m.perTarget() {
		families[f.FamilyName()] = f
	}
	written := 0
	for _, mf := range mfs {
		f, ok := families[mf.GetName()]
		if !ok {
			continue
		}
		var want, got bytes.Buffer
		if _, err := expfmt.MetricFamilyToText(&want, mf); err != nil {
			t.Fatal(err)
		}
		w := bufio.NewWriter(&got)
		if err := f.WriteText(w); err != nil {
			t.Fatal(err)
		}
		_ = w.Flush()
		if got.String() != want.String() {
			t.Errorf("%s:\ngot\n%s\nwant\n%s", mf.GetName(), got.String(), want.String())
		}
		written++
	}
	if written < 5 {
		t.Fatalf("compared %d families, want the 5 filled", written)
	}
	var empty bytes.Buffer
	w := bufio.NewWriter(&empty)
	if err := m.TLSCertExpiry.WriteText(w); err != nil || w.Buffered() != 0 {
		t.Errorf("a family without series wrote %d bytes (%v), want none", w.Buffered(), err)
	}
}
