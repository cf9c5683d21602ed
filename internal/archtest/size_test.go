package archtest

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// fileLineLimits caps the length of every Go file, tests included, in the
// packages that grew one file per concern and must stay that way: a file
// over the limit is a second concern waiting for its own file.
var fileLineLimits = map[string]int{
	"internal/monitor": 400,
}

// TestFilesStayWithinTheirLineLimit: no Go file of a capped package is
// longer than its limit.
func TestFilesStayWithinTheirLineLimit(t *testing.T) {
	for dir, limit := range fileLineLimits {
		files, err := filepath.Glob(filepath.Join("..", "..", dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		if len(files) == 0 {
			t.Fatalf("%s: no Go files found; is the limit's folder still right?", dir)
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if n := lineCount(data); n > limit {
				t.Errorf("%s/%s has %d lines, over the %d-line limit of %s: split it along its concerns",
					dir, filepath.Base(f), n, limit, dir)
			}
		}
	}
}

// lineCount counts lines as editors number them: a last line without a
// newline counts too.
func lineCount(data []byte) int {
	n := bytes.Count(data, []byte{'\n'})
	if len(data) > 0 && data[len(data)-1] != '\n' {
		n++
	}
	return n
}

func TestLineCount(t *testing.T) {
	for in, want := range map[string]int{"": 0, "a": 1, "a\n": 1, "a\nb": 2, "a\nb\n": 2} {
		if got := lineCount([]byte(in)); got != want {
			t.Errorf("lineCount(%q) = %d, want %d", in, got, want)
		}
	}
}
