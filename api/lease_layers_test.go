package api_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"strings"
	"testing"
)

// TestLeaseHandlersStayHTTP: the lease and machine handlers parse, call
// internal/lease and answer; they open no transaction, start or update no
// workflow, run no goroutine and do not import pgx.
func TestLeaseHandlersStayHTTP(t *testing.T) {
	t.Parallel()
	forbidden := map[string]bool{"InTx": true, "BeginTx": true, "Begin": true, "ExecuteWorkflow": true, "UpdateWorkflow": true,
		"SignalWorkflow": true, "SignalWithStartWorkflow": true, "CancelWorkflow": true, "TerminateWorkflow": true}
	for _, file := range []string{"allocations.go", "machines.go", "machine_host.go", "machine_import.go", "customer_machines.go"} {
		f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			if strings.Contains(imp.Path.Value, "github.com/jackc/pgx") {
				t.Errorf("%s imports %s", file, imp.Path.Value)
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.GoStmt:
				t.Errorf("%s starts a goroutine", file)
			case *ast.SelectorExpr:
				if forbidden[n.Sel.Name] {
					t.Errorf("%s calls %s", file, n.Sel.Name)
				}
			}
			return true
		})
	}
}
