// Package resolvers maps the GraphQL schema onto the dm service: thin
// resolvers, one file per type, the dataloaders, the query limits, the
// error presenter, and the handler that wires them to httpx's plumbing and
// realtime/socket's websockets.
package resolvers

import (
	"context"
	"errors"

	"dmgraph/dm"
	"dmgraph/graph"
	"dmgraph/metrics"
	"dmgraph/models"
	"dmgraph/realtime/socket"
	"dmgraph/relay"
)

// Resolver is the root of all resolvers.
type Resolver struct {
	svc     *dm.Service
	sockets *socket.Server // streams subscriptions' events
	metrics *metrics.Metrics
}

var _ graph.ResolverRoot = &Resolver{}

func (r *Resolver) Query() graph.QueryResolver                   { return &queryResolver{r} }
func (r *Resolver) Mutation() graph.MutationResolver             { return &mutationResolver{r} }
func (r *Resolver) User() graph.UserResolver                     { return &userResolver{r} }
func (r *Resolver) Video() graph.VideoResolver                   { return &videoResolver{r} }
func (r *Resolver) Change() graph.ChangeResolver                 { return &changeResolver{r} }
func (r *Resolver) Message() graph.MessageResolver               { return &messageResolver{r} }
func (r *Resolver) Conversation() graph.ConversationResolver     { return &conversationResolver{r} }
func (r *Resolver) MessageRequest() graph.MessageRequestResolver { return &messageRequestResolver{r} }
func (r *Resolver) ReadReceipt() graph.ReadReceiptResolver       { return &readReceiptResolver{r} }
func (r *Resolver) Report() graph.ReportResolver                 { return &reportResolver{r} }
func (r *Resolver) Subscription() graph.SubscriptionResolver     { return &subscriptionResolver{r} }
func (r *Resolver) SystemEvent() graph.SystemEventResolver       { return &systemEventResolver{r} }
func (r *Resolver) GroupInvitation() graph.GroupInvitationResolver {
	return &groupInvitationResolver{r}
}
func (r *Resolver) GroupMemberEdge() graph.GroupMemberEdgeResolver {
	return &groupMemberEdgeResolver{r}
}
func (r *Resolver) PrivacySettings() graph.PrivacySettingsResolver {
	return &privacySettingsResolver{r}
}
func (r *Resolver) SendMessagePayload() graph.SendMessagePayloadResolver {
	return &sendMessagePayloadResolver{r}
}

// decodeOptional decodes an optional global ID of the given kind.
func decodeOptional(kind string, gid *string) (*int64, error) {
	if gid == nil {
		return nil, nil
	}
	id, err := relay.Decode(kind, *gid)
	if err != nil {
		return nil, err
	}
	return &id, nil
}

// optional turns NOT_FOUND into a null value, for fields that may point at
// something gone (a deleted video, say).
func optional[T any](v *T, err error) (*T, error) {
	if errors.Is(err, models.ErrNotFound) {
		return nil, nil
	}
	return v, err
}

// viewerIs reports whether the signed-in user is id.
func viewerIs(ctx context.Context, id int64) bool {
	v, err := models.ViewerID(ctx)
	return err == nil && v == id
}
