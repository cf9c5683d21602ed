package monitor

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/spacetime-vr/spacetime-watch/internal/config"
)

var updateVerifyGolden = flag.Bool("update-verify-golden", false, "rewrite testdata/verify_*.golden from the current rendering")

func reportText(t *testing.T, r Report) string {
	t.Helper()
	var b bytes.Buffer
	if err := r.WriteTable(&b, 80); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestReportTableGolden pins the table's layout (rewrite with
// -update-verify-golden after an intended change, and read the diff).
func TestReportTableGolden(t *testing.T) {
	got := reportText(t, fixedReport(t))
	golden := filepath.Join("testdata", "verify_table.golden")
	if *updateVerifyGolden {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update-verify-golden to create it)", err)
	}
	if got != string(want) {
		t.Errorf("the table differs from %s:\n got:\n%s\nwant:\n%s", golden, got, want)
	}
	if !strings.HasSuffix(got, "DEPLOYMENT FAILED (6/9 passed, 1 skipped)\n") {
		t.Errorf("the table does not end with the verdict line:\n%s", got)
	}
}

// TestReportTableOneLinePerCheck: values with tabs and line breaks (an
// error body) do not break the layout: the reason stays one line under
// its row, the breaks turned into spaces.
func TestReportTableOneLinePerCheck(t *testing.T) {
	rs := []CheckResult{{Check: config.CheckHealth, Status: CheckFail, Observed: "HTTP 500", Expected: "200",
		Reason: "GET /health: HTTP 500: <html>\n\t<body>oops</body>\r\n</html>"}}
	text := reportText(t, Report{Target: "x", Results: rs, Summary: Summarize(rs)})
	lines := strings.Split(strings.TrimSpace(text), "\n")
	// Header line, blank line, column titles, the row, its reason, what
	// was expected, blank line, verdict.
	if len(lines) != 8 || !strings.HasPrefix(lines[3], "2  health") || lines[4] != "   GET /health: HTTP 500: <html> <body>oops</body> </html>" {
		t.Errorf("the row spread over more lines than its reason:\n%s", text)
	}
}

// TestReportTableFitsWidth: at any width from 50 columns up (the verdict
// line's longest), no line of
// the table is wider, and every word of every reason is still there.
func TestReportTableFitsWidth(t *testing.T) {
	r := fixedReport(t)
	for _, width := range []int{50, 57, 80, 132} {
		var b bytes.Buffer
		if err := r.WriteTable(&b, width); err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(b.String(), "\n") {
			if n := utf8.RuneCountInString(line); n > width {
				t.Errorf("width %d: a line of %d columns: %q", width, n, line)
			}
		}
		text := strings.Join(strings.Fields(b.String()), " ")
		for _, c := range r.Results {
			if !strings.Contains(text, strings.Join(strings.Fields(c.Reason), " ")) {
				t.Errorf("width %d: the reason of %s is not all there: %q", width, c.Check, c.Reason)
			}
		}
	}
}
