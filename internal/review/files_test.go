package review

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

func TestFileBase(t *testing.T) {
	long := strings.Repeat("x", 300)
	tests := []struct {
		name, id, want string
	}{
		{"generated ID as is", "vr-1-20260102T030405Z-ab12", "vr-1-20260102T030405Z-ab12-hour-4"},
		{"slash and space", "ci/build 42", "ci_build_42-"},
		{"dot-dot", "../x", "_._x-"},
		{"unicode", "déploiement", "d_ploiement-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := FileBase(tt.id, "hour-4")
			if !strings.HasPrefix(got, tt.want) || !strings.HasSuffix(got, "-hour-4") || strings.ContainsAny(got, "/\\") {
				t.Errorf("FileBase(%q) = %q, want it to start with %q", tt.id, got, tt.want)
			}
		})
	}
	if a, b := FileBase("a/b", "hour-1"), FileBase("a_b", "hour-1"); a == b {
		t.Errorf("two IDs share files: %q", a)
	}
	if got := FileBase(long, "hour-1"); len(got) > 200 {
		t.Errorf("FileBase of a 300-byte ID is %d bytes long", len(got))
	}
}

func TestWriteReviewFilesReplaces(t *testing.T) {
	dir := t.TempDir()
	r := Review{Target: "vr", DeploymentID: "d-1", Name: "hour-1", DueAt: testkit.BaseTime(t), Verdict: Warn}
	for _, v := range []Verdict{Warn, Pass} {
		r.Verdict = v
		if _, err := writeReviewFiles(dir, r); err != nil {
			t.Fatal(err)
		}
	}
	back, ok, err := readReviewFile(dir, "d-1", "hour-1")
	if err != nil || !ok || back.Verdict != Pass {
		t.Errorf("read back %+v, %t, %v; want the second write", back, ok, err)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, ReviewsDir))
	if len(entries) != 2 {
		t.Errorf("%d files, want the .md and the .json only", len(entries))
	}
	if _, ok, err := readReviewFile(dir, "d-1", "hour-4"); ok || err != nil {
		t.Errorf("missing review: %t, %v; want not found, no error", ok, err)
	}
}

func TestWriteReviewFilesReportsTheDir(t *testing.T) {
	dir := t.TempDir()
	// A file where the reviews dir should be.
	if err := os.WriteFile(filepath.Join(dir, ReviewsDir), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := writeReviewFiles(dir, Review{DeploymentID: "d", Name: "hour-1"})
	if err == nil || !strings.Contains(err.Error(), "reviews dir") {
		t.Errorf("err = %v, want one about the reviews dir", err)
	}
}
