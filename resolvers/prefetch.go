package resolvers

import (
	"context"
	"encoding/json"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"dmgraph/models"
	"dmgraph/relay"
)

// A list resolver prefetches what its items' fields will ask the loaders
// for: every key enters one batch at once, instead of trickling in from
// sibling resolvers as fast as the scheduler happens to run them. A page then
// costs the same statements whatever its size and however busy the machine.
// Nothing is fetched for fields the client did not select.

// selectedFields returns the fields selected at path below the current
// field (e.g. "edges", "node").
func selectedFields(ctx context.Context, path ...string) []graphql.CollectedField {
	op := graphql.GetOperationContext(ctx)
	fields := graphql.CollectFieldsCtx(ctx, nil)
	for _, name := range path {
		var sel ast.SelectionSet
		for _, f := range fields {
			if f.Name == name {
				sel = append(sel, f.Selections...)
			}
		}
		fields = graphql.CollectFields(op, sel, nil)
	}
	return fields
}

// childFields returns the fields selected below the given fields.
func childFields(ctx context.Context, fields []graphql.CollectedField) []graphql.CollectedField {
	var sel ast.SelectionSet
	for _, f := range fields {
		sel = append(sel, f.Selections...)
	}
	return graphql.CollectFields(graphql.GetOperationContext(ctx), sel, nil)
}

// fieldsNamed keeps the fields named name.
func fieldsNamed(fields []graphql.CollectedField, name string) []graphql.CollectedField {
	var out []graphql.CollectedField
	for _, f := range fields {
		if f.Name == name {
			out = append(out, f)
		}
	}
	return out
}

// names lists the names of the fields selected below fields.
func names(ctx context.Context, fields []graphql.CollectedField) map[string]bool {
	out := map[string]bool{}
	for _, f := range childFields(ctx, fields) {
		out[f.Name] = true
	}
	return out
}

// selected returns the names of the fields selected at path.
func selected(ctx context.Context, path ...string) map[string]bool {
	fields := selectedFields(ctx, path...)
	out := make(map[string]bool, len(fields))
	for _, f := range fields {
		out[f.Name] = true
	}
	return out
}

// messagesArgs decodes the arguments of each selected Conversation.messages
// field; ones that don't decode are left for the resolver to report.
func messagesArgs(ctx context.Context, fields []graphql.CollectedField) []relay.Args {
	vars := graphql.GetOperationContext(ctx).Variables
	var out []relay.Args
	for _, f := range fields {
		if f.Name != "messages" {
			continue
		}
		m := f.ArgumentMap(vars)
		args, err := relay.Both(intArg(m["first"]), strArg(m["after"]), intArg(m["last"]), strArg(m["before"]))
		if err == nil {
			out = append(out, args)
		}
	}
	return out
}

func intArg(v any) *int {
	switch n := v.(type) {
	case int64:
		i := int(n)
		return &i
	case int:
		return &n
	case json.Number:
		if i, err := n.Int64(); err == nil {
			j := int(i)
			return &j
		}
	}
	return nil
}

func strArg(v any) *string {
	if s, ok := v.(string); ok {
		return &s
	}
	return nil
}

// anyOf reports whether any of names is in set.
func anyOf(set map[string]bool, names ...string) bool {
	for _, n := range names {
		if set[n] {
			return true
		}
	}
	return false
}

var relationFields = []string{"viewerFollows", "followsViewer", "isFriend", "isBlockedByViewer"}

// prefetchConversations primes the loaders for a page of conversations.
func prefetchConversations(ctx context.Context, views []*models.ConversationView, path ...string) {
	if len(views) == 0 {
		return
	}
	l := loadersFrom(ctx)
	fields := selectedFields(ctx, path...)
	node := selected(ctx, path...)
	ids := make([]int64, len(views))
	var lastIDs []int64
	for i, v := range views {
		ids[i] = v.ID
		if last := v.VisibleLastMessageID(); last != 0 {
			lastIDs = append(lastIDs, last)
		}
	}
	if node["unreadCount"] {
		l.unread.LoadAllThunk(ctx, ids)
	}
	if anyOf(node, "lastMessage", "lastMessageAt") {
		l.messages.LoadAllThunk(ctx, lastIDs)
	}
	if node["pendingInvitations"] {
		l.invitations.LoadAllThunk(ctx, ids)
	}
	for _, args := range messagesArgs(ctx, fields) {
		keys := make([]pageKey, len(ids))
		for i, id := range ids {
			keys[i] = pageKey{id, args}
		}
		l.pages.LoadAllThunk(ctx, keys)
	}
	if msgs := fieldsNamed(fields, "messages"); len(msgs) > 0 {
		if names(ctx, msgs)["totalCount"] {
			l.counts.LoadAllThunk(ctx, ids)
		}
		edges := fieldsNamed(childFields(ctx, msgs), "edges")
		msgNode := names(ctx, fieldsNamed(childFields(ctx, edges), "node"))
		if anyOf(msgNode, "sender", "readByCount") {
			node["participants"] = true // senders and read positions come from the members loader below
		}
		if msgNode["readByCount"] {
			l.memberRelations.Store(true) // a block hides a read position
		}
	}
	if node["messageRequest"] {
		var requests []int64
		for _, v := range views {
			if v.Status() == models.StatusRequest {
				requests = append(requests, v.ID)
			}
		}
		l.openRequests.LoadAllThunk(ctx, requests)
	}
	if anyOf(node, "viewerCanSend", "viewerCannotSendReason") {
		l.memberPermissions.Store(true)
		node["participants"] = true // the other participant comes from members
	}
	// Participants, members, read receipts, message senders and read
	// counts all come from members; a group's read positions are hidden
	// across a block, which the relations tell.
	if anyOf(node, "participants", "members", "readReceipts", "lastMessage") {
		if anyOf(selected(ctx, append(path, "participants")...), relationFields...) ||
			anyOf(selected(ctx, append(path, "members", "edges", "node")...), relationFields...) ||
			node["readReceipts"] || selected(ctx, append(path, "lastMessage")...)["readByCount"] {
			l.memberRelations.Store(true)
		}
		l.membersPrimed.Store(true)
		l.members.LoadAllThunk(ctx, ids)
	}
}

// prefetchRequests primes the loaders for a page of message requests.
func prefetchRequests(ctx context.Context, reqs []*models.MessageRequest) {
	if len(reqs) == 0 {
		return
	}
	l := loadersFrom(ctx)
	node := selected(ctx, "edges", "node")
	senders, convs, lasts := make([]int64, len(reqs)), make([]int64, len(reqs)), make([]int64, len(reqs))
	for i, r := range reqs {
		senders[i], convs[i], lasts[i] = r.SenderID, r.ConversationID, r.LastMessageID
	}
	if node["sender"] {
		l.users.LoadAllThunk(ctx, senders)
		if anyOf(selected(ctx, "edges", "node", "sender"), relationFields...) {
			l.relations.LoadAllThunk(ctx, senders)
		}
	}
	if node["conversation"] {
		l.views.LoadAllThunk(ctx, convs)
	}
	if node["lastMessage"] {
		l.messages.LoadAllThunk(ctx, lasts)
	}
}

// prefetchMessages primes the loaders for a page of messages: the shared
// videos, and their owners' relations to the viewer, which decide whether the
// viewer may still see them.
func prefetchMessages(ctx context.Context, msgs []*models.Message) {
	node := selected(ctx, "edges", "node")
	if !anyOf(node, "video", "videoUnavailable") {
		return
	}
	var ids []int64
	for _, m := range msgs {
		if m.VideoID != nil {
			ids = append(ids, *m.VideoID)
		}
	}
	if len(ids) == 0 {
		return
	}
	l := loadersFrom(ctx)
	l.ownerRelations.Store(true)
	l.videos.LoadAllThunk(ctx, ids)
}

// nodes lists the items of a page.
func nodes[T any](c *models.Connection[T]) []*T {
	out := make([]*T, len(c.Edges))
	for i, e := range c.Edges {
		out[i] = e.Node
	}
	return out
}
