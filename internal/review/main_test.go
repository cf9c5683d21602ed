package review

import (
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

func TestMain(m *testing.M) {
	// The package's shared instants, from the one base date of the suite
	// (moved by testkit.BaseShiftEnv): the timeline's deployment starts at
	// 09:30:20, the item tests' minutes at 09:00, the recorder's at 10:00.
	base := testkit.MainBase()
	timelineStart = base.Add(-29*time.Minute - 40*time.Second)
	testStart = base.Add(-time.Hour)
	t0 = base
	goleak.VerifyTestMain(m)
}
