package disttest_test

import (
	"archive/tar"
	"debug/elf"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// testImage is the name the test builds under, so that it neither uses nor
// replaces an image a developer built with `make image`.
const testImage = "localhost/spacetime-watch-disttest"

// imageConfig is the part of `podman image inspect`'s Config the test reads.
type imageConfig struct {
	User         string
	Entrypoint   []string
	Cmd          []string
	ExposedPorts map[string]struct{}
	Labels       map[string]string
}

// TestImage builds the image with `make image` (podman, FROM scratch: no
// registry), checks its configuration with podman image inspect, and runs
// the binary from the image's exported filesystem (podman run needs cgroups
// these machines lack). It then builds a second image with the first as
// BASE, the build argument a site with a registry points at a distroless
// base: the recipe must work on a base that has files of its own.
func TestImage(t *testing.T) {
	testkit.Root(t, "build images in podman's system storage")
	testkit.Tool(t, "podman")
	version := release(t)
	ref := testImage + ":" + version
	makeTarget(t, "image", "IMAGE="+testImage)
	t.Cleanup(func() { _, _ = run(t, time.Minute, "podman", "rmi", "--force", ref) })

	cfg := inspect(t, ref)
	if cfg.User != "65532:65532" {
		t.Errorf("user = %q, want 65532:65532 (non-root)", cfg.User)
	}
	if !slices.Equal(cfg.Entrypoint, []string{"/bin/spacetime-watch"}) {
		t.Errorf("entrypoint = %q, want [/bin/spacetime-watch]", cfg.Entrypoint)
	}
	if want := []string{"run", "--config.file=/etc/spacetime-watch/config.yaml", "--state.dir=/var/lib/spacetime-watch"}; !slices.Equal(cfg.Cmd, want) {
		t.Errorf("cmd = %q, want %q", cfg.Cmd, want)
	}
	if _, ok := cfg.ExposedPorts["9850/tcp"]; !ok || len(cfg.ExposedPorts) != 1 {
		t.Errorf("exposed ports = %v, want 9850/tcp alone", cfg.ExposedPorts)
	}
	wantLabels := map[string]string{
		"org.opencontainers.image.title":    "spacetime-watch",
		"org.opencontainers.image.version":  version,
		"org.opencontainers.image.licenses": "Apache-2.0",
		"org.opencontainers.image.source":   "https://github.com/spacetime-vr/spacetime-watch",
	}
	if rev := headRevision(t); rev != "" {
		wantLabels["org.opencontainers.image.revision"] = rev
	}
	for k, v := range wantLabels {
		if got := cfg.Labels[k]; got != v && !(k == "org.opencontainers.image.revision" && strings.HasPrefix(got, v)) {
			t.Errorf("label %s = %q, want %q", k, got, v)
		}
	}
	for _, k := range []string{"org.opencontainers.image.created", "org.opencontainers.image.description"} {
		if cfg.Labels[k] == "" {
			t.Errorf("label %s is missing", k)
		}
	}

	root := exportFS(t, ref)
	checkVersionReport(t, mustRun(t, filepath.Join(root.dir, "bin", "spacetime-watch"), "--version"))
	if interp := interpreter(t, filepath.Join(root.dir, "bin", "spacetime-watch")); interp != "" {
		t.Errorf("/bin/spacetime-watch asks for the dynamic loader %s; a scratch image has none (CGO_ENABLED=0)", interp)
	}
	if fi, err := os.Stat(filepath.Join(root.dir, "etc", "ssl", "certs", "ca-certificates.crt")); err != nil || fi.Size() == 0 {
		t.Errorf("no CA bundle at /etc/ssl/certs/ca-certificates.crt: %v", err)
	}
	if owner, ok := root.owners["var/lib/spacetime-watch/"]; !ok || owner != [2]int{65532, 65532} {
		t.Errorf("/var/lib/spacetime-watch is owned by %v (present %v), want 65532:65532: the daemon writes its state there", owner, ok)
	}
	for _, parent := range []string{"var/", "var/lib/"} {
		if owner := root.owners[parent]; owner != [2]int{0, 0} {
			t.Errorf("/%s is owned by %v, want root", parent, owner)
		}
	}

	t.Run("on another base", func(t *testing.T) {
		onBase := testImage + "-onbase"
		makeTarget(t, "image", "IMAGE="+onBase, "BASE="+ref)
		t.Cleanup(func() { _, _ = run(t, time.Minute, "podman", "rmi", "--force", onBase+":"+version) })
		if got := inspect(t, onBase+":"+version); got.User != "65532:65532" || !slices.Equal(got.Entrypoint, cfg.Entrypoint) {
			t.Errorf("image on base %s: user %q, entrypoint %q", ref, got.User, got.Entrypoint)
		}
	})
}

// inspect returns the configuration of image.
func inspect(t *testing.T, image string) imageConfig {
	t.Helper()
	var cfgs []struct{ Config imageConfig }
	if err := json.Unmarshal([]byte(mustRun(t, "podman", "image", "inspect", image)), &cfgs); err != nil || len(cfgs) != 1 {
		t.Fatalf("podman image inspect %s: %v (%d images)", image, err, len(cfgs))
	}
	return cfgs[0].Config
}

// exportedFS is an image's filesystem unpacked in dir, with the owners
// (uid, gid) the tar stream gave each entry.
type exportedFS struct {
	dir    string
	owners map[string][2]int
}

// exportFS unpacks the filesystem of a container created (not started)
// from image.
func exportFS(t *testing.T, image string) exportedFS {
	t.Helper()
	id := strings.TrimSpace(mustRun(t, "podman", "create", image))
	defer func() { _, _ = run(t, time.Minute, "podman", "rm", "--force", id) }()
	archive := filepath.Join(t.TempDir(), "fs.tar")
	mustRun(t, "podman", "export", "--output", archive, id)
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fs := exportedFS{dir: t.TempDir(), owners: map[string][2]int{}}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Clean(h.Name)
		if !filepath.IsLocal(name) {
			t.Fatalf("the image's filesystem has an entry outside its root: %q", h.Name)
		}
		fs.owners[h.Name] = [2]int{h.Uid, h.Gid}
		path := filepath.Join(fs.dir, name)
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(path, 0o755)
		case tar.TypeReg:
			err = writeEntry(path, tr, os.FileMode(h.Mode)&0o755)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return fs
}

func writeEntry(path string, r io.Reader, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// interpreter returns the ELF interpreter (dynamic loader) the binary at
// path asks for, "" for a static binary.
func interpreter(t *testing.T, path string) string {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b, _ := io.ReadAll(p.Open())
			return strings.TrimRight(string(b), "\x00")
		}
	}
	return ""
}
