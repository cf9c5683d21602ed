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
	// The checklist's band and ceiling, as the docs promise them.
	if d := DefaultReviewThresholds(); d.FPSMin != 85 || d.FPSMax != 95 || d.MemoryMaxMB != 400 {
		t.Errorf("DefaultReviewThresholds band %g–%g, %g MB, want the checklist's 85–95 FPS and 400 MB", d.FPSMin, d.FPSMax, d.MemoryMaxMB)
	}
}
