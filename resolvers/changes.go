package resolvers

import (
	"time"

	"context"

	"github.com/99designs/gqlgen/graphql/handler/transport"

	"dmgraph/graph/model"
	"dmgraph/models"
	"dmgraph/relay"
)

// Sync pages: 100 changes unless asked otherwise, 500 at most.
const (
	defaultSyncPage = 100
	maxSyncPage     = 500
)

func (r *queryResolver) Sync(ctx context.Context, since *string, first *int) (*model.ChangePage, error) {
	n := defaultSyncPage
	if first != nil {
		if *first < 0 || *first > maxSyncPage {
			return nil, models.InvalidField("first", "first must be between 0 and %d", maxSyncPage)
		}
		n = *first
	}
	from, err := decodePosition(since)
	if err != nil {
		return nil, err
	}
	if from == nil {
		latest, err := r.svc.LatestChange(ctx)
		if err != nil {
			return nil, err
		}
		return &model.ChangePage{Changes: []*models.Change{}, Position: relay.Position(latest)}, nil
	}
	changes, err := r.svc.Changes(ctx, *from, n+1)
	if err != nil {
		return nil, err
	}
	page := &model.ChangePage{Changes: changes, Position: relay.Position(*from)}
	if len(changes) > n {
		page.Changes, page.HasMore = changes[:n], true
	}
	if k := len(page.Changes); k > 0 {
		page.Position = relay.Position(page.Changes[k-1].ID)
	}
	return page, nil
}

// Changes streams the viewer's changes from since: the argument, else the
// connection's connectionParams ("since"), which graphql-ws clients compute
// again on every reconnect; from now without either.
func (r *subscriptionResolver) Changes(ctx context.Context, since *string) (<-chan *models.Change, error) {
	from, err := resumePosition(ctx, since)
	if err != nil {
		return nil, err
	}
	return r.sockets.Changes(ctx, r.svc, from)
}

// resumePosition is the position a subscription resumes from: arg, else the
// connection's "since", else none.
func resumePosition(ctx context.Context, arg *string) (*int64, error) {
	if arg == nil {
		if s, ok := transport.GetInitPayload(ctx)["since"].(string); ok && s != "" {
			arg = &s
		}
	}
	return decodePosition(arg)
}

func decodePosition(p *string) (*int64, error) {
	if p == nil {
		return nil, nil
	}
	id, err := relay.ParsePosition(*p)
	if err != nil {
		return nil, err
	}
	return &id, nil
}

type changeResolver struct{ *Resolver }

func (r *changeResolver) Position(_ context.Context, c *models.Change) (string, error) {
	return relay.Position(c.ID), nil
}

func (r *changeResolver) Conversation(ctx context.Context, c *models.Change) (*models.ConversationView, error) {
	if c.ConversationID == 0 {
		return nil, nil
	}
	return optional(loadView(ctx, c.ConversationID))
}

func (r *changeResolver) ConversationID(_ context.Context, c *models.Change) (*string, error) {
	return optionalID(relay.KindConversation, c.ConversationID), nil
}

// Message is the change's message while the viewer can still see it: in a
// conversation of theirs, after what they cleared, and for a former group
// member, no later than when they left.
func (r *changeResolver) Message(ctx context.Context, c *models.Change) (*models.Message, error) {
	if c.MessageID == 0 {
		return nil, nil
	}
	view, err := r.Conversation(ctx, c)
	if view == nil || err != nil || !view.Sees(c.MessageID) {
		return nil, err
	}
	return optional(loadMessage(ctx, c.MessageID))
}

func (r *changeResolver) Request(ctx context.Context, c *models.Change) (*models.MessageRequest, error) {
	if c.RequestID == 0 {
		return nil, nil
	}
	return optional(r.svc.MessageRequest(ctx, c.RequestID))
}

func (r *changeResolver) RequestID(_ context.Context, c *models.Change) (*string, error) {
	return optionalID(relay.KindMessageRequest, c.RequestID), nil
}

func (r *changeResolver) User(ctx context.Context, c *models.Change) (*models.User, error) {
	if c.OtherUserID == 0 {
		return nil, nil
	}
	return optional(loadUser(ctx, c.OtherUserID))
}

func (r *changeResolver) PrivacySettings(ctx context.Context, c *models.Change) (*models.PrivacySettings, error) {
	if c.Kind != models.ChangeSettingsUpdated {
		return nil, nil
	}
	return privacySettings(ctx, r.svc)
}

// optionalID is the global ID of id, or nil for 0.
func optionalID(kind string, id int64) *string {
	if id == 0 {
		return nil
	}
	gid := relay.ID(kind, id)
	return &gid
}

func (r *changeResolver) At(_ context.Context, c *models.Change) (*time.Time, error) {
	return &c.CreatedAt, nil
}
