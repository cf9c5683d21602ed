package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/spacetime-vr/spacetime-watch/internal/testkit"
)

// src is a test file of package p importing testkit (as tk when alias).
func src(alias, body string) string {
	imp := `"` + testkitPath + `"`
	if alias != "" {
		imp = alias + " " + imp
	}
	return "package p\n\nimport (\n\t\"testing\"\n\t" + imp + "\n)\n\nvar _ = testing.T{}\n\n" + body
}

// write writes text to name under root, making its directory.
func write(t *testing.T, root, name, text string) {
	t.Helper()
	path := filepath.Join(root, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	testkit.WriteFile(t, path, text)
}

// TestSelections: every way a test can reach the base date selects it, and
// nothing else is selected; shared state runs the package whole.
func TestSelections(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		// Direct, through a helper chain, through a method, and a test
		// that never takes the base; an alias import.
		"internal/direct/a_test.go": src("tk", `
func TestDirect(t *testing.T) { _ = tk.BaseTime(t) }
func TestNone(t *testing.T) { now := 1; _ = now }
func ExampleNone() {}
`),
		"internal/direct/b_test.go": src("", `
type fixture struct{}
func (fixture) start(t *testing.T) any { return testkit.NewClock(t) }
func outer(t *testing.T) any { return inner(t) }
func inner(t *testing.T) any { return testkit.Base }
func TestViaHelpers(t *testing.T) { _ = outer(t) }
func TestViaMethod(t *testing.T) { var f fixture; _ = f.start(t) }
func FuzzViaHelpers(f *testing.F) { _ = outer(nil) }
`),
		// TestMain sets package variables from the base.
		"internal/main/m_test.go": src("", `
var t0 any
func TestMain(m *testing.M) { t0 = testkit.MainBase(); m.Run() }
func TestA(t *testing.T) {}
`),
		// A package variable taken from a helper that takes the base.
		"internal/pkgvar/v_test.go": src("", `
func base() any { b, _ := testkit.Base(); return b }
var start = base()
func TestA(t *testing.T) {}
`),
		// A helper assigns a package variable that another test reads.
		"internal/assigned/s_test.go": src("", `
var shared any
func setup(t *testing.T) { shared = testkit.BaseTime(t) }
func TestSets(t *testing.T) { setup(t) }
func TestReads(t *testing.T) { _ = shared }
`),
		// No base at all, and a fixture under testdata that is not a package.
		"internal/none/n_test.go":          src("", "func TestA(t *testing.T) { _ = testkit.NewClockAt }\n"),
		"internal/none/testdata/x_test.go": src("", "func TestX(t *testing.T) { _ = testkit.BaseTime(t) }\n"),
	}
	for name, text := range files {
		write(t, root, name, text)
	}
	got, err := selections(root)
	if err != nil {
		t.Fatal(err)
	}
	want := []selection{
		{"internal/assigned", "."},
		{"internal/direct", "^(FuzzViaHelpers|TestDirect|TestViaHelpers|TestViaMethod)$"},
		{"internal/main", "."},
		{"internal/pkgvar", "."},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("selections =\n%v\nwant\n%v", got, want)
	}
}

// TestSelectionsRefuseABaseInANonTestFile: a helper package that takes the
// base would hide its callers in other packages, so it is an error naming
// the file and line.
func TestSelectionsRefuseABaseInANonTestFile(t *testing.T) {
	root := t.TempDir()
	write(t, root, "internal/helper/h.go", strings.Replace(src("", "func Start(t *testing.T) any {\n\treturn testkit.NewClock(t)\n}\n"), "package p", "package helper", 1))
	_, err := selections(root)
	if err == nil || !strings.Contains(err.Error(), "internal/helper/h.go:11") || !strings.Contains(err.Error(), "outside a _test.go file") {
		t.Fatalf("selections = %v, want an error naming internal/helper/h.go:11", err)
	}
}

// TestSelectionsOfThisModule: the module's own selection runs (no package
// takes the base outside its tests) and reruns review whole, whose TestMain
// sets the package's instants from the base.
func TestSelectionsOfThisModule(t *testing.T) {
	got, err := selections(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range got {
		if s.dir == "internal/review" {
			if s.run != "." {
				t.Errorf("internal/review runs %q, want . (its TestMain takes the base)", s.run)
			}
			return
		}
	}
	t.Errorf("internal/review is not selected: %v", got)
}
