package archtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// wallClockExempt are the directories whose non-test files may read the
// wall clock: the one place that provides the real clock, the simulator
// (a stand-in instance with a clock of its own), and the test-only helpers.
var wallClockExempt = map[string]string{
	"internal/clock":       "it is the real clock",
	"internal/sim":         "the simulator stands in for an instance, which has its own clock",
	"cmd/spacetime-sim":    "the simulator's binary",
	"internal/testkit":     "test helpers (their polling deadlines are the tests' own)",
	"internal/sim/simtest": "test helpers starting the simulator",
}

// wallClockReads are the time functions that read the machine's clock.
var wallClockReads = map[string]bool{"Now": true, "Since": true, "Until": true}

// TestOnlyTheClockReadsTheWallClock: a decision taken on the machine's
// clock instead of the injected one is a test that passes on the day it was
// written and fails later. Every non-test file goes through internal/clock
// (clock.Now injected, clock.Deadline for I/O deadlines) instead.
func TestOnlyTheClockReadsTheWallClock(t *testing.T) {
	for _, f := range goFiles(t) {
		if strings.HasSuffix(f.path, "_test.go") || exempt(f.rel, wallClockExempt) {
			continue
		}
		timeName := importName(f.file, "time")
		if timeName == "" {
			continue
		}
		ast.Inspect(f.file, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == timeName && wallClockReads[sel.Sel.Name] {
				t.Errorf("%s: time.%s reads the wall clock: take the injected clock (func() time.Time, default clock.Now) or clock.Deadline for an I/O deadline",
					f.fset.Position(sel.Pos()), sel.Sel.Name)
			}
			return true
		})
	}
}

// testOnlyPackages are the shared test helpers.
var testOnlyPackages = []string{"internal/testkit", "internal/sim/simtest", "internal/alert/slackfake/slackfaketest", "internal/store/storetest"}

// testPrograms are programs that only tests build and run, which may use
// the test helpers.
var testPrograms = map[string]string{
	"internal/alert/internal/crashchild": "the process the outbox crash test kills",
}

// TestTestkitIsForTestsOnly: the shared test helpers never reach the binaries.
func TestTestkitIsForTestsOnly(t *testing.T) {
	for _, f := range goFiles(t) {
		if exempt(f.rel, testPrograms) {
			continue
		}
		for _, pkg := range testOnlyPackages {
			if strings.HasSuffix(f.path, "_test.go") || exempt(f.rel, map[string]string{pkg: ""}) {
				continue
			}
			if importName(f.file, module+"/"+pkg) != "" {
				t.Errorf("%s imports %s, which only tests may use", f.rel, pkg)
			}
		}
	}
}

type goFile struct {
	path, rel string
	fset      *token.FileSet
	file      *ast.File
}

// goFiles parses every Go file of the module (imports and code), from the
// module root two directories up; deploy/k8stest is a module of its own.
func goFiles(t *testing.T) []goFile {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	var out []goFile
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if rel == "deploy/k8stest" || strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		fset := token.NewFileSet()
		file, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		out = append(out, goFile{path: path, rel: rel, fset: fset, file: file})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatal("no Go files found: is the module root two directories up?")
	}
	return out
}

// exempt reports whether rel lies in one of dirs.
func exempt(rel string, dirs map[string]string) bool {
	for d := range dirs {
		if strings.HasPrefix(rel, d+"/") {
			return true
		}
	}
	return false
}

// importName is the name file uses for the package at path, "" when it
// does not import it.
func importName(file *ast.File, path string) string {
	for _, imp := range file.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		if p != path {
			continue
		}
		if imp.Name != nil {
			return imp.Name.Name
		}
		return path[strings.LastIndex(path, "/")+1:]
	}
	return ""
}
