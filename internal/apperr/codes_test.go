package apperr_test

import (
	"bufio"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Every code the Go tree gives apperr.New (directly, or through a function
// that passes one of its parameters on as the code, like apperr.NotFoundErr)
// has a text in both of the console's languages (web/src/locales/codes).
func TestEveryCodeHasItsTexts(t *testing.T) {
	root := filepath.Join("..", "..")
	codes, unresolved := goCodes(t, root)
	if len(codes) < 50 {
		t.Fatalf("found only %d codes: the search is broken", len(codes))
	}
	zh, en := consoleCodes(t, filepath.Join(root, "web", "src", "locales", "codes"))
	if len(zh) < 50 || len(en) < 50 {
		t.Fatalf("read only %d Chinese and %d English texts: the parser is broken", len(zh), len(en))
	}
	names := make([]string, 0, len(codes))
	for c := range codes {
		names = append(names, c)
	}
	slices.Sort(names)
	for _, c := range names {
		if !zh[c] {
			t.Errorf("%s (%s): no Chinese text in web/src/locales/codes", c, codes[c])
		}
		if !en[c] {
			t.Errorf("%s (%s): no English text in web/src/locales/codes", c, codes[c])
		}
	}
	// codes handed on from elsewhere (an error's own code) are not checked here
	t.Logf("%d codes checked; calls that pass a code that is not a constant: %v", len(codes), unresolved)
}

// wrapper is a function that passes its parameter at index arg on as a code.
type wrapper struct {
	pkg, name string
	arg       int
}

type goFile struct {
	pkg  string
	file *ast.File
}

// goCodes are the codes (with where one is used) of every non-test Go file
// under root, and where calls pass something that is not a constant.
func goCodes(t *testing.T, root string) (map[string]string, []string) {
	t.Helper()
	fset := token.NewFileSet()
	var files []goFile
	consts := map[string]string{} // "pkg.Name" -> value
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
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		pkg := f.Name.Name
		files = append(files, goFile{pkg, f})
		for _, decl := range f.Decls {
			g, ok := decl.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if i < len(vs.Values) {
						if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
							consts[pkg+"."+name.Name], _ = strconv.Unquote(lit.Value)
						}
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	wrappers := map[[2]string]int{{"apperr", "New"}: 1}
	codes := map[string]string{}
	var unresolved []string
	for changed := true; changed; {
		changed = false
		unresolved = nil
		for _, gf := range files {
			imports := map[string]bool{}
			for _, im := range gf.file.Imports {
				p, _ := strconv.Unquote(im.Path.Value)
				name := filepath.Base(p)
				if im.Name != nil {
					name = im.Name.Name
				}
				imports[name] = true
			}
			for _, decl := range gf.file.Decls {
				fn, ok := decl.(*ast.FuncDecl)
				if !ok || fn.Body == nil {
					continue
				}
				params := paramIndex(fn.Type)
				ast.Inspect(fn.Body, func(n ast.Node) bool {
					call, ok := n.(*ast.CallExpr)
					if !ok {
						return true
					}
					key, ok := callee(call, gf.pkg, imports)
					if !ok {
						return true
					}
					at, ok := wrappers[key]
					if !ok || at >= len(call.Args) {
						return true
					}
					switch a := call.Args[at].(type) {
					case *ast.BasicLit:
						if s, err := strconv.Unquote(a.Value); err == nil {
							codes[s] = fset.Position(a.Pos()).String()
						}
						return true
					case *ast.Ident:
						if v, ok := consts[gf.pkg+"."+a.Name]; ok {
							codes[v] = fset.Position(a.Pos()).String()
							return true
						}
						if i, ok := params[a.Name]; ok {
							w := [2]string{gf.pkg, fn.Name.Name}
							if _, known := wrappers[w]; !known {
								wrappers[w] = i
								changed = true
							}
							return true
						}
					case *ast.SelectorExpr:
						if x, ok := a.X.(*ast.Ident); ok {
							if v, ok := consts[x.Name+"."+a.Sel.Name]; ok {
								codes[v] = fset.Position(a.Pos()).String()
								return true
							}
						}
					}
					unresolved = append(unresolved, fset.Position(call.Pos()).String())
					return true
				})
			}
		}
	}
	return codes, unresolved
}

// paramIndex maps a function's parameter names to their positions.
func paramIndex(ft *ast.FuncType) map[string]int {
	m := map[string]int{}
	i := 0
	for _, field := range ft.Params.List {
		if len(field.Names) == 0 {
			i++
			continue
		}
		for _, n := range field.Names {
			m[n.Name] = i
			i++
		}
	}
	return m
}

// callee is the package and name of what a call calls: pkg.F for an
// imported package's function, else (methods, local functions) the
// calling file's package and the name.
func callee(call *ast.CallExpr, pkg string, imports map[string]bool) ([2]string, bool) {
	switch f := call.Fun.(type) {
	case *ast.Ident:
		return [2]string{pkg, f.Name}, true
	case *ast.SelectorExpr:
		if x, ok := f.X.(*ast.Ident); ok && imports[x.Name] {
			return [2]string{x.Name, f.Sel.Name}, true
		}
		return [2]string{pkg, f.Sel.Name}, true
	}
	return [2]string{}, false
}

var (
	importLine = regexp.MustCompile(`^import \* as (\w+) from '\./(\w+)'`)
	exportLine = regexp.MustCompile(`^export const (\w+)(?::[^=]*)? = \{\s*$`)
	keyLine    = regexp.MustCompile(`^\s*(\w+):\s*(.*?)\s*$`)
	spreadLine = regexp.MustCompile(`^\s*\.\.\.(\w+)\.(\w+),?\s*$`)
	closeLine  = regexp.MustCompile(`^\s*\}`)
)

// consoleCodes are the codes with a Chinese and with an English text, as
// index.ts puts the catalogues together: each file's exported objects
// (keys nested as "a.b"), spread at the top or under a capability's name.
func consoleCodes(t *testing.T, dir string) (zh, en map[string]bool) {
	t.Helper()
	// blocks["file.const"] are the keys of one exported object
	blocks := map[string][]string{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".ts") || e.Name() == "index.ts" {
			continue
		}
		file := strings.TrimSuffix(e.Name(), ".ts")
		var block string
		var stack []string
		eachLine(t, filepath.Join(dir, e.Name()), func(line string) {
			trimmed := strings.TrimSpace(line)
			if strings.HasPrefix(trimmed, "//") || strings.HasPrefix(trimmed, "/*") || strings.HasPrefix(trimmed, "*") {
				return
			}
			if m := exportLine.FindStringSubmatch(line); m != nil {
				block, stack = file+"."+m[1], nil
				return
			}
			if block == "" {
				return
			}
			if closeLine.MatchString(line) {
				if len(stack) == 0 {
					block = ""
				} else {
					stack = stack[:len(stack)-1]
				}
				return
			}
			if m := keyLine.FindStringSubmatch(line); m != nil {
				if m[2] == "{" {
					stack = append(stack, m[1])
					return
				}
				blocks[block] = append(blocks[block], strings.Join(append(slices.Clone(stack), m[1]), "."))
			}
		})
	}

	aliases := map[string]string{}
	zh, en = map[string]bool{}, map[string]bool{}
	var into map[string]bool
	add := func(prefix, alias, name string) {
		keys, ok := blocks[aliases[alias]+"."+name]
		if !ok {
			t.Fatalf("index.ts names %s.%s, which is not an exported object of codes/%s.ts", alias, name, aliases[alias])
		}
		for _, k := range keys {
			into[prefix+k] = true
		}
	}
	eachLine(t, filepath.Join(dir, "index.ts"), func(line string) {
		if m := importLine.FindStringSubmatch(line); m != nil {
			aliases[m[1]] = m[2]
			return
		}
		if m := exportLine.FindStringSubmatch(line); m != nil {
			switch m[1] {
			case "codesZh":
				into = zh
			case "codesEn":
				into = en
			default:
				into = nil
			}
			return
		}
		if into == nil {
			return
		}
		if m := spreadLine.FindStringSubmatch(line); m != nil {
			add("", m[1], m[2])
			return
		}
		if m := keyLine.FindStringSubmatch(line); m != nil {
			alias, name, ok := strings.Cut(strings.TrimSuffix(m[2], ","), ".")
			if !ok {
				t.Fatalf("index.ts: %q is not capability: file.object", line)
			}
			add(m[1]+".", alias, name)
			return
		}
		if closeLine.MatchString(line) {
			into = nil
		}
	})
	return zh, en
}

func eachLine(t *testing.T, path string, fn func(string)) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fn(sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(fmt.Errorf("%s: %w", path, err))
	}
}
