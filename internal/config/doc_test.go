package config

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strings"
	"testing"
)

// TestFieldsDocumentDefaults holds the package to its promise that every
// config field's doc comment says its default (or that it is required).
func TestFieldsDocumentDefaults(t *testing.T) {
	fset := token.NewFileSet()
	for _, file := range []string{"config.go", "alerting.go", "token.go", "load.go"} {
		f, err := parser.ParseFile(fset, file, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok || !ts.Name.IsExported() {
				return true
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				return true
			}
			for _, fld := range st.Fields.List {
				doc := strings.ToLower(fld.Doc.Text())
				if !strings.Contains(doc, "default") && !strings.Contains(doc, "required") {
					t.Errorf("%s: a field of %s has no doc comment saying its default", fset.Position(fld.Pos()), ts.Name.Name)
				}
			}
			return true
		})
	}
}
