package api_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The api is HTTP only (DESIGN.md, Layers): a handler parses its input, calls
// one method of a service and maps the error. Transactions, workflow starts
// and background goroutines belong to the services below it; this test keeps
// them out of the package's own code.
func TestAPIIsHTTPOnly(t *testing.T) {
	forbiddenCalls := map[string]string{
		"InTx": "a transaction", "BeginTx": "a transaction", "Begin": "a transaction", "BeginFunc": "a transaction",
		"ExecuteWorkflow": "a workflow start", "SignalWithStartWorkflow": "a workflow start",
		"UpdateWorkflow": "a workflow update", "UpdateWithStartWorkflow": "a workflow update",
		"SignalWorkflow": "a workflow signal", "CancelWorkflow": "a workflow cancel", "TerminateWorkflow": "a workflow end",
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(path, "github.com/jackc/pgx") {
				t.Errorf("%s imports %s: database access belongs to a service or the store", fset.Position(imp.Pos()), path)
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.GoStmt:
				t.Errorf("%s starts a goroutine: background work belongs to a service (Start/Close) or a workflow", fset.Position(n.Pos()))
			case *ast.CallExpr:
				if sel, ok := n.Fun.(*ast.SelectorExpr); ok {
					if what, bad := forbiddenCalls[sel.Sel.Name]; bad {
						t.Errorf("%s calls %s (%s): that belongs to a service", fset.Position(n.Pos()), sel.Sel.Name, what)
					}
					// store.New(tx) runs queries in a transaction the handler holds
					if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "store" && sel.Sel.Name == "New" {
						t.Errorf("%s calls store.New: queries in a transaction belong to a service", fset.Position(n.Pos()))
					}
				}
			}
			return true
		})
	}
	if checked == 0 {
		t.Fatal("no source files checked")
	}
}
