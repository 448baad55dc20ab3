package main

import (
	goast "go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

// Every refusal reason the server can emit (extensions.reason,
// MessagePermission.reason, Conversation.viewerCannotSendReason) is a value
// of the schema's RefusalReason enum, and the enum lists nothing the server
// never emits. The reasons are read from the code itself: every constant
// named Reason…, and every string literal given as a reason to
// models.Refusal, models.RateLimited or an Error literal's Reason field.
func TestRefusalReasonsAreInTheSchema(t *testing.T) {
	emitted := emittedReasons(t)
	if len(emitted) < 10 {
		t.Fatalf("found only %d reasons in the code: the scan is broken", len(emitted))
	}
	b, err := os.ReadFile("schema.graphqls")
	if err != nil {
		t.Fatal(err)
	}
	schema, gerr := gqlparser.LoadSchema(&ast.Source{Name: "schema.graphqls", Input: string(b)})
	if gerr != nil {
		t.Fatal(gerr)
	}
	enum := schema.Types["RefusalReason"]
	if enum == nil {
		t.Fatal("schema.graphqls has no RefusalReason enum")
	}
	listed := map[string]bool{}
	for _, v := range enum.EnumValues {
		listed[v.Name] = true
		if _, ok := emitted[v.Name]; !ok {
			t.Errorf("RefusalReason.%s is emitted nowhere in the code: remove it, or say where it comes from", v.Name)
		}
	}
	var missing []string
	for reason, where := range emitted {
		if !listed[reason] {
			missing = append(missing, reason+" ("+where+")")
		}
	}
	sort.Strings(missing)
	for _, m := range missing {
		t.Errorf("reason %s is missing from enum RefusalReason in schema.graphqls", m)
	}
}

// emittedReasons returns each reason found in the code, with where.
func emittedReasons(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && (path == "graph" || strings.HasPrefix(d.Name(), ".") && path != "." || d.Name() == "node_modules"):
			return filepath.SkipDir
		case d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go"):
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		goast.Inspect(f, func(n goast.Node) bool {
			for _, lit := range reasonLiterals(n) {
				if s, err := strconv.Unquote(lit.Value); err == nil && s != "" {
					out[s] = fset.Position(lit.Pos()).String()
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// reasonLiterals returns the string literals that n gives as a reason.
func reasonLiterals(n goast.Node) []*goast.BasicLit {
	var exprs []goast.Expr
	switch n := n.(type) {
	case *goast.ValueSpec:
		for i, name := range n.Names {
			if strings.HasPrefix(name.Name, "Reason") && i < len(n.Values) {
				exprs = append(exprs, n.Values[i])
			}
		}
	case *goast.CallExpr:
		switch funcName(n.Fun) {
		case "Refusal":
			if len(n.Args) > 1 {
				exprs = append(exprs, n.Args[1])
			}
		case "RateLimited":
			if len(n.Args) > 0 {
				exprs = append(exprs, n.Args[0])
			}
		}
	case *goast.CompositeLit:
		if funcName(n.Type) == "Error" {
			for _, el := range n.Elts {
				if kv, ok := el.(*goast.KeyValueExpr); ok && funcName(kv.Key) == "Reason" {
					exprs = append(exprs, kv.Value)
				}
			}
		}
	}
	var lits []*goast.BasicLit
	for _, e := range exprs {
		if lit, ok := e.(*goast.BasicLit); ok && lit.Kind == token.STRING {
			lits = append(lits, lit)
		}
	}
	return lits
}

// funcName is the name an identifier or a selector (pkg.Name) ends with.
func funcName(e goast.Expr) string {
	switch e := e.(type) {
	case *goast.Ident:
		return e.Name
	case *goast.SelectorExpr:
		return e.Sel.Name
	}
	return ""
}
