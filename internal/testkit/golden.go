package testkit

import (
	"bytes"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// isoDate is a date as reports and RFC 3339 write it: 2026-11-27.
var isoDate = regexp.MustCompile(`\b(\d{4})-(\d{2})-(\d{2})`)

// slackDate is Slack's date token, which carries Unix seconds:
// <!date^1795773600^{date_short_pretty}|…>.
var slackDate = regexp.MustCompile(`<!date\^(\d+)\^`)

// UnshiftDates moves every date written YYYY-MM-DD in text, and the Unix
// seconds of every Slack date token (<!date^seconds^…>), back by the years
// BaseShiftEnv moved BaseTime, so that a golden file holds the text of an
// unshifted run and matches a run at any shift. Only the year changes:
// that is all a shift changes in text derived from BaseTime, as long as
// the text names no weekday. Apply it to what a test produced before
// comparing it with (or writing) the golden file.
func UnshiftDates(tb testing.TB, text []byte) []byte {
	tb.Helper()
	years, err := BaseShiftYears()
	if err != nil {
		tb.Fatal(err)
	}
	if years == 0 {
		return text
	}
	text = isoDate.ReplaceAllFunc(text, func(date []byte) []byte {
		y, _ := strconv.Atoi(string(date[:4])) // four digits by the pattern
		out := []byte(strconv.Itoa(y - years))
		return append(out, date[4:]...)
	})
	return slackDate.ReplaceAllFunc(text, func(token []byte) []byte {
		digits := slackDate.FindSubmatch(token)[1]
		secs, err := strconv.ParseInt(string(digits), 10, 64)
		if err != nil {
			return token // too many digits for a date: leave it be
		}
		moved := time.Unix(secs, 0).UTC().AddDate(-years, 0, 0).Unix()
		return []byte("<!date^" + strconv.FormatInt(moved, 10) + "^")
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
		tb.Fatalf("%v (write it with the package's -update flag)", err)
	}
	if !bytes.Equal(got, want) {
		tb.Errorf("%s differs (rerun with the package's -update flag to accept, and review the diff)\n--- got:\n%s\n--- want:\n%s", path, got, want)
	}
}

// Unwrapped joins text's words with single spaces: a terminal's wrapping
// and indentation undone, so that a test can look for a sentence in it.
func Unwrapped(text string) string { return strings.Join(strings.Fields(text), " ") }
