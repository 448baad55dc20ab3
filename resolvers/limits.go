package resolvers

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"

	"dmgraph/graph"
	"dmgraph/models"
	"dmgraph/relay"
)

// Query limits. A page costs its size times what one item costs, so
// conversations(first: 100) { messages(first: 100) { … } } is priced at what
// it would read.
const (
	MaxComplexity = 20000
	// MaxDepth bounds how deeply object fields nest (introspection's ofType
	// chain excepted).
	MaxDepth = 12
	// MaxFields bounds the field selections of an operation, and of each
	// fragment, counted wherever a fragment is spread, so a thousand aliases
	// of a cheap field don't turn into a thousand queries.
	MaxFields = 500
	// MaxSelections bounds the whole document as the validator and the cost
	// walk see it: every operation and every fragment definition, each with
	// the fragments it spreads expanded, fields, spreads and inline fragments
	// all counted.
	MaxSelections = 10 * MaxFields
	// MaxRepeatedField bounds how many fields share one response name in one
	// place (fragments and same-named parents merged), because checking that
	// they can be merged compares every pair of them.
	MaxRepeatedField = 20
	// MaxSpreadsPerSet bounds the fragment spreads in one selection set,
	// because checking that fragments can be merged compares every pair.
	MaxSpreadsPerSet = 100
	// MaxTokens bounds what the parser reads of a query.
	MaxTokens = 20000
)

// pageSize is the size a connection field will return, for pricing.
func pageSize(first, last *int) int {
	n := relay.DefaultPageSize
	switch {
	case first != nil:
		n = *first
	case last != nil:
		n = *last
	}
	return max(1, min(n, relay.MaxPageSize))
}

// complexity prices every connection by its page size.
func complexity() graph.ComplexityRoot {
	var c graph.ComplexityRoot
	forward := func(child int, first *int, _ *string) int { return 1 + child*pageSize(first, nil) }
	c.Query.Conversations = forward
	c.Query.MessageRequests = forward
	c.Query.BlockedUsers = forward
	c.Query.SuggestedFriends = forward
	c.Query.Followers = func(child int, _ string, first *int, after *string) int { return forward(child, first, after) }
	c.Query.Following = c.Query.Followers
	c.Conversation.Messages = func(child int, first *int, _ *string, last *int, _ *string) int {
		return 1 + child*pageSize(first, last)
	}
	return c
}

// documentLimits checks a query's shape before gqlgen parses and validates
// it, in time linear in the query: gqlgen's validation and its cost walk
// follow every fragment spread, so fragments that each spread the next one
// twice would cost them 2^n steps for n fragments. A query already in the
// query cache passed when it was added.
type documentLimits struct {
	cache graphql.Cache[*ast.QueryDocument]
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
} = documentLimits{}

func (documentLimits) ExtensionName() string                   { return "DocumentLimits" }
func (documentLimits) Validate(graphql.ExecutableSchema) error { return nil }

func (l documentLimits) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	if l.cache != nil {
		if _, ok := l.cache.Get(ctx, p.Query); ok {
			return nil
		}
	}
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: p.Query}, MaxTokens)
	if err != nil {
		return nil // gqlgen reports the syntax error where it parses
	}
	if e := checkDocument(doc, nil); e != nil {
		return &gqlerror.Error{Err: e, Message: e.Message}
	}
	return nil
}

// checkDocument refuses a document over the limits. work, when not nil,
// counts the steps taken, for tests: one per selection in the document,
// then, for an expansion within MaxSelections, one per expanded selection.
func checkDocument(doc *ast.QueryDocument, work *int) *models.Error {
	c := &docCheck{
		frags: make(map[string]*ast.FragmentDefinition, len(doc.Fragments)),
		memo:  make(map[*ast.FragmentDefinition]*shape, len(doc.Fragments)),
	}
	for _, f := range doc.Fragments {
		if _, dup := c.frags[f.Name]; !dup {
			c.frags[f.Name] = f // the first wins, as in validation
		}
	}
	defer func() {
		if work != nil {
			*work += c.work
		}
	}()
	// First each definition's expanded size, memoised per fragment: linear.
	total := 0
	var roots []ast.SelectionSet
	for _, op := range doc.Operations {
		s, err := c.set(op.SelectionSet)
		if err != nil {
			return err
		}
		if err := s.check(); err != nil {
			return err
		}
		total = sat(total + s.selections)
		roots = append(roots, op.SelectionSet)
	}
	for _, f := range doc.Fragments {
		s, err := c.fragment(f)
		if err != nil {
			return err
		}
		if err := s.check(); err != nil {
			return err
		}
		total = sat(total + s.selections)
		roots = append(roots, f.SelectionSet)
	}
	if total > MaxSelections {
		return models.Invalid("the query's operations and fragments expand to more than %d selections", MaxSelections)
	}
	// Now the expansion is known to be small: walk it, merging fields as
	// execution does, to bound fields that share a response name.
	for _, set := range roots {
		if err := c.repeats([]ast.SelectionSet{set}); err != nil {
			return err
		}
	}
	return nil
}

// shape is what a selection set expands to.
type shape struct {
	fields     int // field selections, saturating
	selections int // fields, spreads and inline fragments, saturating
	depth      int // nested object fields
}

func (s *shape) check() *models.Error {
	switch {
	case s.depth > MaxDepth:
		return models.Invalid("the query is nested too deeply (more than %d levels)", MaxDepth)
	case s.fields > MaxFields:
		return models.Invalid("the query selects too many fields (more than %d, fragments counted wherever they are spread)", MaxFields)
	}
	return nil
}

func (s *shape) add(o *shape, at int) {
	s.fields = sat(s.fields + o.fields)
	s.selections = sat(s.selections + o.selections)
	s.depth = max(s.depth, at+o.depth)
}

// satMax keeps sizes of any expansion far from overflow: 64 fragments that
// each spread the next twice expand to 2^64 selections.
const satMax = 1 << 40

func sat(n int) int { return min(n, satMax) }

type docCheck struct {
	frags map[string]*ast.FragmentDefinition
	memo  map[*ast.FragmentDefinition]*shape // nil while being measured
	work  int
}

// fragment measures a fragment once; a fragment reached again while it is
// being measured spreads itself.
func (c *docCheck) fragment(f *ast.FragmentDefinition) (*shape, *models.Error) {
	if s, seen := c.memo[f]; seen {
		if s == nil {
			return nil, models.Invalid("fragment %q spreads itself", f.Name)
		}
		return s, nil
	}
	c.memo[f] = nil
	s, err := c.set(f.SelectionSet)
	if err != nil {
		return nil, err
	}
	c.memo[f] = s
	return s, nil
}

func (c *docCheck) set(set ast.SelectionSet) (*shape, *models.Error) {
	out := &shape{}
	spreads := 0
	for _, sel := range set {
		c.work++
		var (
			in  *shape
			err *models.Error
			at  int
		)
		switch s := sel.(type) {
		case *ast.Field:
			out.fields = sat(out.fields + 1)
			if len(s.SelectionSet) == 0 {
				in = &shape{}
				break
			}
			if s.Name != "ofType" {
				// Introspection's type-wrapper chain (GraphiQL nests it nine
				// deep) is bounded by the schema: it does not count.
				at = 1
			}
			in, err = c.set(s.SelectionSet)
		case *ast.InlineFragment:
			in, err = c.set(s.SelectionSet)
		case *ast.FragmentSpread:
			// Validation would refuse an unknown fragment too, but only after
			// comparing every pair of spreads: nothing it cannot measure
			// reaches it.
			f := c.frags[s.Name]
			if f == nil {
				return nil, models.Invalid("unknown fragment %q", s.Name)
			}
			if spreads++; spreads > MaxSpreadsPerSet {
				return nil, models.Invalid("a selection spreads more than %d fragments", MaxSpreadsPerSet)
			}
			in, err = c.fragment(f)
		}
		if err != nil {
			return nil, err
		}
		out.selections = sat(out.selections + 1)
		out.add(in, at)
	}
	return out, nil
}

// repeats walks merged selection sets (one place in the response: the sets
// of every field that lands there, fragments included) and refuses more than
// MaxRepeatedField fields with one response name in one place. The caller
// has bounded the expansion and refused fragment cycles, so this walk is
// short.
func (c *docCheck) repeats(sets []ast.SelectionSet) *models.Error {
	var order []string
	groups := map[string][]ast.SelectionSet{}
	counts := map[string]int{}
	var collect func(set ast.SelectionSet) *models.Error
	collect = func(set ast.SelectionSet) *models.Error {
		for _, sel := range set {
			c.work++
			switch s := sel.(type) {
			case *ast.Field:
				name := s.Alias
				if name == "" {
					name = s.Name
				}
				if counts[name]++; counts[name] > MaxRepeatedField {
					return models.Invalid("the query selects %q more than %d times in one place", name, MaxRepeatedField)
				}
				if _, ok := groups[name]; !ok {
					order = append(order, name)
				}
				if len(s.SelectionSet) > 0 {
					groups[name] = append(groups[name], s.SelectionSet)
				} else if groups[name] == nil {
					groups[name] = []ast.SelectionSet{}
				}
			case *ast.InlineFragment:
				if err := collect(s.SelectionSet); err != nil {
					return err
				}
			case *ast.FragmentSpread:
				if f := c.frags[s.Name]; f != nil {
					if err := collect(f.SelectionSet); err != nil {
						return err
					}
				}
			}
		}
		return nil
	}
	for _, set := range sets {
		if err := collect(set); err != nil {
			return err
		}
	}
	for _, name := range order {
		if len(groups[name]) == 0 {
			continue
		}
		if err := c.repeats(groups[name]); err != nil {
			return err
		}
	}
	return nil
}
