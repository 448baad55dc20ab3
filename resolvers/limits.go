package resolvers

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"dmgraph/graph"
	"dmgraph/models"
	"dmgraph/relay"
)

// Query limits. A page costs its size times what one item costs, so
// conversations(first: 100) { messages(first: 100) { … } } is priced at what
// it would read.
const (
	MaxComplexity = 20000
	MaxDepth      = 12
	// MaxFields bounds the field selections of an operation, aliases and
	// fragments counted, so a thousand aliases of a cheap field don't turn
	// into a thousand queries.
	MaxFields = 500
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

// depthLimit refuses operations nested deeper than MaxDepth, before any
// resolver runs.
type depthLimit struct{}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = depthLimit{}

func (depthLimit) ExtensionName() string                   { return "DepthLimit" }
func (depthLimit) Validate(graphql.ExecutableSchema) error { return nil }

func (depthLimit) MutateOperationContext(_ context.Context, rc *graphql.OperationContext) *gqlerror.Error {
	if rc.Operation == nil {
		return nil
	}
	if d := depth(rc.Operation.SelectionSet, rc.Doc.Fragments, 0); d > MaxDepth {
		return &gqlerror.Error{Message: "the query is nested too deeply",
			Extensions: map[string]any{"code": string(models.CodeBadUserInput), "maxDepth": MaxDepth}}
	}
	if n := countFields(rc.Operation.SelectionSet, rc.Doc.Fragments, 0); n > MaxFields {
		return &gqlerror.Error{Message: "the query selects too many fields",
			Extensions: map[string]any{"code": string(models.CodeBadUserInput), "maxFields": MaxFields}}
	}
	return nil
}

// countFields counts field selections, following fragments; it stops
// counting past MaxFields.
func countFields(set ast.SelectionSet, frags ast.FragmentDefinitionList, n int) int {
	for _, sel := range set {
		if n > MaxFields {
			return n
		}
		switch s := sel.(type) {
		case *ast.Field:
			n = countFields(s.SelectionSet, frags, n+1)
		case *ast.InlineFragment:
			n = countFields(s.SelectionSet, frags, n)
		case *ast.FragmentSpread:
			if f := frags.ForName(s.Name); f != nil {
				n = countFields(f.SelectionSet, frags, n)
			}
		}
	}
	return n
}

// depth measures a selection set; fragments are followed, and a fragment
// cycle (which validation rejects anyway) stops at the limit.
func depth(set ast.SelectionSet, frags ast.FragmentDefinitionList, at int) int {
	if at > MaxDepth {
		return at
	}
	deepest := at
	for _, sel := range set {
		var d int
		switch s := sel.(type) {
		case *ast.Field:
			d = at
			switch {
			case s.Name == "ofType" && len(s.SelectionSet) > 0:
				// Introspection's type-wrapper chain (GraphiQL nests it nine
				// deep) is bounded by the schema: it does not count.
				d = depth(s.SelectionSet, frags, at)
			case len(s.SelectionSet) > 0:
				d = depth(s.SelectionSet, frags, at+1)
			}
		case *ast.InlineFragment:
			d = depth(s.SelectionSet, frags, at)
		case *ast.FragmentSpread:
			if f := frags.ForName(s.Name); f != nil {
				d = depth(f.SelectionSet, frags, at)
			}
		}
		deepest = max(deepest, d)
	}
	return deepest
}
