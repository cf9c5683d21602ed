package testkit

import (
	"bytes"
	"os"
	"regexp"
	"strconv"
	"testing"
)

// isoDate is a date as reports and RFC 3339 write it: 2026-11-27.
var isoDate = regexp.MustCompile(`\b(\d{4})-(\d{2})-(\d{2})`)

// UnshiftDates moves every date written YYYY-MM-DD in text back by the
// years BaseShiftEnv moved BaseTime, so that a golden file holds the text
// of an unshifted run and matches a run at any shift. Only the year
// changes: that is all a shift changes in text derived from BaseTime, as
// long as the text names no weekday. Apply it to what a test produced
// before comparing it with (or writing) the golden file.
func UnshiftDates(tb testing.TB, text []byte) []byte {
	tb.Helper()
	years, err := BaseShiftYears()
	if err != nil {
		tb.Fatal(err)
	}
	if years == 0 {
		return text
	}
	return isoDate.ReplaceAllFunc(text, func(date []byte) []byte {
		y, _ := strconv.Atoi(string(date[:4])) // four digits by the pattern
		out := []byte(strconv.Itoa(y - years))
		return append(out, date[4:]...)
	})
}

// CheckGolden compares got with the golden file at path, or, when update
// is set (a package's -update flag), rewrites the file with got.
func CheckGolden(tb testing.TB, path string, got []byte, update bool) {
	tb.Helper()
	if update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			tb.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("%v (write it with -update)", err)
	}
	if !bytes.Equal(got, want) {
		tb.Errorf("%s differs (go test -update to accept)\n--- got:\n%s\n--- want:\n%s", path, got, want)
	}
}
