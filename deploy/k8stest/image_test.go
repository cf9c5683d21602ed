package k8stest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestImagePinnedToRelease: every overlay run the image of the release in
// VERSION (which `make image` tags), never :latest, whose meaning changes
// under a running pod.
func TestImagePinnedToRelease(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot, "VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	want := "ghcr.io/spacetime-vr/spacetime-watch:" + strings.TrimSpace(string(raw))
	_, _, side := sidecar(t)
	_, _, cent := central(t)
	_, _, shd := sharded(t)
	for name, image := range map[string]string{"sidecar": side.Image, "central": cent.Image, "sharded": shd.Image} {
		if image != want {
			t.Errorf("%s image = %q, want %q (the release in VERSION; bump the manifests with it)", name, image, want)
		}
	}
}
