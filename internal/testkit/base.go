package testkit

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"
)

// BaseShiftEnv moves BaseTime by whole years (e.g. -3 or 3), so that the
// suite can prove that no test passes only near the day it was written:
// `make test` runs the packages that use BaseTime again with it set to -3
// and 3. Every component of such a test must run on the injected clock.
const BaseShiftEnv = "SPACETIME_WATCH_TEST_BASE_SHIFT_YEARS"

// baseDate is the date tests with fixed dates start from, before the shift.
var baseDate = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

// BaseTime is the fixed instant tests with fixed dates start from: Friday
// 2026-11-27 10:00 UTC, moved by BaseShiftEnv years when set.
func BaseTime(tb testing.TB) time.Time {
	tb.Helper()
	t, err := Base()
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

// Base is BaseTime for a TestMain, which has no testing.TB to fail: a
// package whose tests share fixed instants in package variables sets them
// from it before m.Run.
func Base() (time.Time, error) {
	years, err := BaseShiftYears()
	if err != nil {
		return time.Time{}, err
	}
	return baseDate.AddDate(years, 0, 0), nil
}

// MainBase is Base for a TestMain that sets its package's instants from
// it before m.Run: a bad BaseShiftEnv prints the error and exits with
// status 2 (a TestMain has no test to fail).
func MainBase() time.Time {
	base, err := Base()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	return base
}

// BaseShiftYears is the shift BaseShiftEnv asks for, 0 when unset.
func BaseShiftYears() (int, error) {
	v := os.Getenv(BaseShiftEnv)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%s=%q: want a whole number of years, e.g. -3 or 3", BaseShiftEnv, v)
	}
	return n, nil
}
