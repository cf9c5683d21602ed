package testkit

import (
	"bytes"
	"os"
	"testing"
)

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
