package config

import "testing"

// TestReviewThresholdsFollowTheTarget: a review judges a target against
// the FPS band and memory ceiling the file gives it, and the checklist's
// values for the rest; the defaults' band is the thresholds section's.
func TestReviewThresholdsFollowTheTarget(t *testing.T) {
	c, err := Parse([]byte("targets:\n  - name: vr-1\n    api_url: http://127.0.0.1:8080\n    thresholds:\n      fps: {min: 70, max: 80}\n      memory: {max_mb: 600}\n"), testOpts("t.yml"))
	if err != nil {
		t.Fatal(err)
	}
	got, want := c.Targets[0].ReviewThresholds(), DefaultReviewThresholds()
	want.FPSMin, want.FPSMax, want.MemoryMaxMB = 70, 80, 600
	if got != want {
		t.Errorf("ReviewThresholds = %+v, want %+v", got, want)
	}
	th := Default().Defaults.Thresholds
	if d := DefaultReviewThresholds(); d.FPSMin != th.FPS.Min || d.FPSMax != th.FPS.Max || d.MemoryMaxMB != th.Memory.MaxMB {
		t.Errorf("DefaultReviewThresholds band %g–%g, %g MB: not the thresholds section's", d.FPSMin, d.FPSMax, d.MemoryMaxMB)
	}
}
