package resolvers

import (
	"fmt"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
)

// workBound is the most steps checkDocument may take on a query: each
// selection once while measuring, and the merged walk, which runs only on
// expansions within MaxSelections.
func workBound(query string) int { return len(query) + MaxSelections }

// spreadsTwice is the attack: each of n fragments spreads the next twice,
// so the document is linear in n and its expansion is 2^n.
func spreadsTwice(n int) string {
	var b strings.Builder
	b.WriteString("query { ...F0 }")
	for i := range n {
		fmt.Fprintf(&b, " fragment F%d on Query { ...F%d ...F%d }", i, i+1, i+1)
	}
	fmt.Fprintf(&b, " fragment F%d on Query { __typename }", n)
	return b.String()
}

func TestSec01CheckWorkIsLinear(t *testing.T) {
	for _, n := range []int{8, 16, 26, 64, 1000} {
		q := spreadsTwice(n)
		doc, err := parser.ParseQuery(&ast.Source{Input: q})
		if err != nil {
			t.Fatal(err)
		}
		work := 0
		cerr := checkDocument(doc, &work)
		if n >= 9 && cerr == nil {
			t.Fatalf("%d levels passed", n)
		}
		// Each of the n+1 fragments is measured once: a couple of steps
		// each, never 2^n. An expansion within the limits is then walked.
		bound := 3 * (n + 2)
		if n < 9 {
			bound += 1 << n
		}
		if work > bound {
			t.Fatalf("%d levels: %d steps", n, work)
		}
	}
}

func FuzzQueryLimits(f *testing.F) {
	for _, s := range []string{
		spreadsTwice(3), spreadsTwice(30),
		`{ me { id ...U } } fragment U on User { username ...U }`,
		`{ ...A } fragment A on Query { ...B } fragment B on Query { me { id } } fragment A on Query { ...A }`,
		`{ a: me { id } a: me { id } ... on Query { a: me { name } } }`,
		`query Q { __schema { types { ofType { ofType { ofType { name } } } } } } query R { ...Missing }`,
		`{ conversations { edges { node { lastMessage { conversation { id } } } } } }`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, query string) {
		doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: query}, MaxTokens)
		if err != nil {
			return
		}
		work := 0
		_ = checkDocument(doc, &work)
		if work > workBound(query) {
			t.Fatalf("%d steps for %d bytes: %q", work, len(query), query)
		}
	})
}
