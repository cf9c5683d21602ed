package archtest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// fixedDatesAllowed are the test declarations ("file declaration") that may
// call time.Date, each with its reason: the date is data the test reads or
// writes, not the instant the test starts from. Anything else takes its
// date from testkit.BaseTime (testkit.MainBase in a TestMain or a package
// variable), so that make test-clock moves it.
var fixedDatesAllowed = map[string]string{
	"internal/alert/manager_helpers_test.go bubbleStart":                           "synctest's fixed epoch, where every bubble's clock starts",
	"internal/config/config_test.go TestParseValid":                                "the value the YAML under test spells out",
	"internal/sim/telemetry_test.go TestTelemetryTimestamps":                       "the instant the expected raw frames spell out",
	"internal/spacetime/decode_test.go telNow":                                     "the receive time the decoder fixtures' frame times were written against",
	"internal/spacetime/quirk_decode_test.go TestQuirk_HistoryLoadedAtWithoutZone": "the value each timestamp string under test spells out",
	"internal/store/fixture_test.go writeFixture":                                  "the contents of the checked-in testdata/state-v1.db",
	"internal/store/fixture_test.go TestSchemaV1Fixture":                           "the contents of the checked-in testdata/state-v1.db",
}

// fixedDatesExempt is where time.Date may make the base date itself.
var fixedDatesExempt = map[string]string{"internal/testkit": "it holds the suite's base date"}

// TestFixedDatesComeFromTheBase: a test that makes its own date with
// time.Date is not moved by make test-clock, so a time bomb in it (a
// decision on the wall clock, a date that stops being in the future) stays
// hidden. An allow-list entry that no longer matches fails too, so the list
// stays the list of the legitimate cases.
func TestFixedDatesComeFromTheBase(t *testing.T) {
	var files []goFile
	for _, f := range goFiles(t) {
		if strings.HasSuffix(f.path, "_test.go") && !exempt(f.rel, fixedDatesExempt) {
			files = append(files, f)
		}
	}
	violations, unused := fixedDates(files, fixedDatesAllowed)
	for _, v := range violations {
		t.Error(v)
	}
	for _, key := range unused {
		t.Errorf("fixedDatesAllowed[%q] matches no time.Date call: remove it", key)
	}
}

// TestFixedDatesRuleCatchesAPlantedDate: the rule names the file, line and
// fix of a test that makes its own base date, through a renamed time
// import too, and lets an allowed declaration through.
func TestFixedDatesRuleCatchesAPlantedDate(t *testing.T) {
	const src = `package x

import stdtime "time"

var epoch = stdtime.Date(2000, 1, 1, 0, 0, 0, 0, stdtime.UTC)

func TestPlanted(t *testing.T) {
	now := stdtime.Date(2025, 3, 14, 12, 30, 0, 0, stdtime.UTC)
	_ = now
}
`
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, "x_test.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := goFile{path: "/m/internal/x/x_test.go", rel: "internal/x/x_test.go", fset: fset, file: file}
	violations, unused := fixedDates([]goFile{f}, map[string]string{
		"internal/x/x_test.go epoch":    "an epoch",
		"internal/x/x_test.go TestGone": "a test that was deleted",
	})
	if len(violations) != 1 || !strings.HasPrefix(violations[0], "internal/x/x_test.go:8: ") ||
		!strings.Contains(violations[0], "TestPlanted") || !strings.Contains(violations[0], "testkit.BaseTime") {
		t.Errorf("violations = %q, want one naming internal/x/x_test.go:8, TestPlanted and testkit.BaseTime", violations)
	}
	if want := []string{"internal/x/x_test.go TestGone"}; !reflect.DeepEqual(unused, want) {
		t.Errorf("unused = %q, want %q", unused, want)
	}
}

// fixedDates returns a message for each time.Date call in files outside the
// allowed declarations, and the allowed keys that matched no call.
func fixedDates(files []goFile, allowed map[string]string) (violations, unused []string) {
	used := map[string]bool{}
	for _, f := range files {
		timeName := importName(f.file, "time")
		if timeName == "" {
			continue
		}
		for _, d := range namedDecls(f.file) {
			name := d.name
			key := f.rel + " " + name
			ast.Inspect(d.node, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok || sel.Sel.Name != "Date" {
					return true
				}
				if id, ok := sel.X.(*ast.Ident); !ok || id.Name != timeName {
					return true
				}
				if _, ok := allowed[key]; ok {
					used[key] = true
					return true
				}
				violations = append(violations, f.rel+":"+strconv.Itoa(f.fset.Position(call.Pos()).Line)+": "+name+
					" makes its own date with time.Date, which make test-clock cannot move: take it from testkit.BaseTime(t)"+
					" (testkit.MainBase() in a TestMain or package variable), or, when the date is data (a parsed fixture,"+
					" synctest's epoch), add "+key+" to fixedDatesAllowed in internal/archtest with the reason")
				return true
			})
		}
	}
	for key := range allowed {
		if !used[key] {
			unused = append(unused, key)
		}
	}
	sort.Strings(unused)
	return violations, unused
}

// namedDecl is a top-level function or one spec of a var, const or type
// declaration, with its name.
type namedDecl struct {
	name string
	node ast.Node
}

// namedDecls lists file's top-level declarations by name: a function's
// (a method's as Type.Method), a spec's first name.
func namedDecls(file *ast.File) []namedDecl {
	var out []namedDecl
	for _, d := range file.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			out = append(out, namedDecl{funcName(d), d})
		case *ast.GenDecl:
			for _, s := range d.Specs {
				switch s := s.(type) {
				case *ast.ValueSpec:
					out = append(out, namedDecl{s.Names[0].Name, s})
				case *ast.TypeSpec:
					out = append(out, namedDecl{s.Name.Name, s})
				}
			}
		}
	}
	return out
}

// funcName is a function's name, a method's as Type.Method.
func funcName(d *ast.FuncDecl) string {
	if d.Recv != nil && len(d.Recv.List) == 1 {
		recv := d.Recv.List[0].Type
		if star, ok := recv.(*ast.StarExpr); ok {
			recv = star.X
		}
		if id, ok := recv.(*ast.Ident); ok {
			return id.Name + "." + d.Name.Name
		}
	}
	return d.Name.Name
}
