package apperr_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// bilingual is a text in both languages, "中文 / English" or "English /
// 中文" (spaces optional): the way messages were written before they got
// codes. The console translates codes now.
var bilingual = regexp.MustCompile(`\p{Han}[^/]*/\s*[A-Za-z]{2}|[A-Za-z]{2}[^/]*/\s*[^/]*\p{Han}`)

// No Go string holds a message in both languages: messages carry a code and
// parameters (apperr.New), and the console's catalogues hold the texts.
func TestNoBilingualMessages(t *testing.T) {
	root := filepath.Join("..", "..")
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "node_modules", ".git", ".data", "web", "bin":
				return filepath.SkipDir
			}
			return nil
		}
		// tests may hold old stored texts, to check that migrations convert them
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err == nil && bilingual.MatchString(s) {
				t.Errorf("%s: a message in both languages (give it a code): %.60q", fset.Position(lit.Pos()), s)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
