// Command clocktests is the selection of make test-clock: it prints
// "<package> <-run regex>" for every package of the module whose tests
// take the suite's base date (testkit.Base, MainBase, BaseTime or
// NewClock), so that those tests run again with the base moved 3 years
// back and ahead.
//
// A test is selected when it reaches the base directly or through any
// function, method, variable or constant of its package's test files, by
// name and transitively (a name that a local variable shadows counts too:
// selecting one test too many costs a second, missing one hides a time
// bomb). A package runs whole (".") when the base reaches TestMain, an init
// function or a package-level variable, since those are shared by tests
// that cannot be told apart by name. A non-test file that takes the base
// is an error: its callers in other packages would not be found.
//
// Usage: go run ./tools/clocktests [module root, default .]
package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

const testkitPath = "github.com/spacetime-vr/spacetime-watch/internal/testkit"

// baseFuncs are testkit's functions that return the base date or a clock
// standing on it.
var baseFuncs = map[string]bool{"Base": true, "MainBase": true, "BaseTime": true, "NewClock": true}

// searched are the module's directories that hold packages with tests.
var searched = []string{"cmd", "internal", "tools"}

func main() {
	root := "."
	if len(os.Args) > 1 {
		root = os.Args[1]
	}
	sels, err := selections(root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "clocktests:", err)
		os.Exit(1)
	}
	for _, s := range sels {
		fmt.Printf("./%s %s\n", s.dir, s.run)
	}
}

// selection is one package's tests to rerun: run is a go test -run regex.
type selection struct{ dir, run string }

// selections walks the module at root and returns the selection of every
// package whose tests take the base date, sorted by directory.
func selections(root string) ([]selection, error) {
	byDir := map[string][]*ast.File{}
	for _, top := range searched {
		err := filepath.WalkDir(filepath.Join(root, top), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				if os.IsNotExist(err) && path == filepath.Join(root, top) {
					return filepath.SkipDir
				}
				return err
			}
			if d.IsDir() {
				if d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".") {
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(path, ".go") {
				return nil
			}
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, path)
			if !strings.HasSuffix(path, "_test.go") {
				if pos, ok := firstBaseCall(fset, f); ok && !strings.HasPrefix(rel, "internal/testkit/") {
					return fmt.Errorf("%s:%d takes the base date outside a _test.go file: the tests calling it cannot be found by name; take it in the tests (or teach tools/clocktests about this helper)", rel, pos.Line)
				}
				return nil
			}
			dir := filepath.ToSlash(filepath.Dir(rel))
			byDir[dir] = append(byDir[dir], f)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	var out []selection
	for dir, files := range byDir {
		if run := selectTests(files); run != "" {
			out = append(out, selection{dir: dir, run: run})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].dir < out[j].dir })
	return out, nil
}

// firstBaseCall finds the first use of a base function of testkit in f.
func firstBaseCall(fset *token.FileSet, f *ast.File) (token.Position, bool) {
	name := testkitName(f)
	var at token.Position
	found := false
	if name == "" {
		return at, false
	}
	ast.Inspect(f, func(n ast.Node) bool {
		if found {
			return false
		}
		if isBaseRef(n, name) {
			at, found = fset.Position(n.Pos()), true
		}
		return !found
	})
	return at, found
}

// decl is one top-level declaration of a package's test files: the names it
// declares, the names it mentions, the names it assigns with = (of which
// only the package-level variables count).
type decl struct {
	names    []string
	mentions map[string]bool
	assigns  []string
	base     bool // mentions a base function of testkit itself
	shared   bool // TestMain, init or a package-level variable
	test     string
}

// selectTests returns the -run regex of the tests in files (one package
// directory, its internal and external test packages together) that take
// the base date: "." for all, "" for none.
func selectTests(files []*ast.File) string {
	var decls []*decl
	vars := map[string]bool{} // the package-level variables
	for _, f := range files {
		tk := testkitName(f)
		for _, d := range f.Decls {
			decls = append(decls, describe(d, tk))
			if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.VAR {
				for _, n := range decls[len(decls)-1].names {
					vars[n] = true
				}
			}
		}
	}
	// Taint by name until nothing changes: a declaration is tainted when it
	// takes the base or mentions a tainted name; what a tainted function
	// assigns is tainted too.
	tainted := map[string]bool{}
	isTainted := make([]bool, len(decls))
	for changed := true; changed; {
		changed = false
		for i, d := range decls {
			if isTainted[i] || !(d.base || mentionsAny(d.mentions, tainted)) {
				continue
			}
			isTainted[i], changed = true, true
			for _, n := range d.names {
				tainted[n] = true
			}
			for _, n := range d.assigns {
				if vars[n] {
					tainted[n], d.shared = true, true
				}
			}
		}
	}
	var tests []string
	for i, d := range decls {
		if !isTainted[i] {
			continue
		}
		if d.shared {
			return "."
		}
		if d.test != "" {
			tests = append(tests, d.test)
		}
	}
	if len(tests) == 0 {
		return ""
	}
	sort.Strings(tests)
	return "^(" + strings.Join(tests, "|") + ")$"
}

func mentionsAny(mentions, names map[string]bool) bool {
	for n := range mentions {
		if names[n] {
			return true
		}
	}
	return false
}

// describe reads one top-level declaration; tk is the file's name for
// testkit, "" when it does not import it.
func describe(d ast.Decl, tk string) *decl {
	out := &decl{mentions: map[string]bool{}}
	var body ast.Node = d
	switch d := d.(type) {
	case *ast.FuncDecl:
		out.names = []string{d.Name.Name}
		switch name := d.Name.Name; {
		case d.Recv != nil:
		case name == "TestMain" || name == "init":
			out.shared = true
		case isTestName(name):
			out.test = name
		}
		if d.Body == nil {
			return out
		}
		body = d.Body
	case *ast.GenDecl:
		if d.Tok == token.IMPORT {
			return out
		}
		for _, s := range d.Specs {
			switch s := s.(type) {
			case *ast.ValueSpec:
				for _, n := range s.Names {
					out.names = append(out.names, n.Name)
				}
				out.shared = out.shared || d.Tok == token.VAR
			case *ast.TypeSpec:
				out.names = append(out.names, s.Name.Name)
			}
		}
	}
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.Ident:
			out.mentions[n.Name] = true
		case *ast.AssignStmt:
			if n.Tok != token.ASSIGN {
				break // := declares locals
			}
			for _, l := range n.Lhs {
				if id, ok := l.(*ast.Ident); ok && id.Name != "_" {
					out.assigns = append(out.assigns, id.Name)
				}
			}
		}
		if tk != "" && isBaseRef(n, tk) {
			out.base = true
		}
		return true
	})
	return out
}

// isTestName reports whether go test -run selects a top-level function of
// this name: a test, an example or a fuzz target.
func isTestName(name string) bool {
	for _, p := range []string{"Test", "Example", "Fuzz"} {
		if rest, ok := strings.CutPrefix(name, p); ok && (rest == "" || !('a' <= rest[0] && rest[0] <= 'z')) {
			return true
		}
	}
	return false
}

// isBaseRef reports whether n is one of tk's baseFuncs.
func isBaseRef(n ast.Node, tk string) bool {
	sel, ok := n.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	id, ok := sel.X.(*ast.Ident)
	return ok && id.Name == tk && baseFuncs[sel.Sel.Name]
}

// testkitName is the name f uses for testkit, "" when it does not import it.
func testkitName(f *ast.File) string {
	for _, imp := range f.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); p == testkitPath {
			if imp.Name != nil {
				return imp.Name.Name
			}
			return "testkit"
		}
	}
	return ""
}
