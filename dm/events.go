package dm

import (
	"context"

	"dmgraph/models"
)

// Publisher hands committed events to the realtime broker. It never waits
// on subscribers.
type Publisher interface {
	Publish(ctx context.Context, ev models.Event)
}

type noEvents struct{}

func (noEvents) Publish(context.Context, models.Event) {}

// publish sends an event after its transaction committed: every caller
// runs it after the store returned.
func (s *Service) publish(ctx context.Context, ev models.Event) {
	if len(ev.Audience) > 0 {
		s.events.Publish(ctx, ev)
	}
}

// recorded runs a store write and, once it committed, wakes up the devices
// of everyone whose change sequence it moved.
func (s *Service) recorded(ctx context.Context, write func(context.Context) error) error {
	ctx, log := models.WithChangeLog(ctx)
	err := write(ctx)
	s.publish(ctx, models.Event{Kind: models.EventChanged, Audience: log.Audience()})
	return err
}

// recordedEdge is recorded for a change between two users.
func (s *Service) recordedEdge(change func(ctx context.Context, viewer, other int64) error) func(ctx context.Context, viewer, other int64) error {
	return func(ctx context.Context, viewer, other int64) error {
		return s.recorded(ctx, func(ctx context.Context) error { return change(ctx, viewer, other) })
	}
}

// publishSend announces a stored message: to both sides' devices when it
// reached the inbox, else to the sender's, and the recipient hears that
// their change sequence moved (a request opened or grew).
func (s *Service) publishSend(ctx context.Context, res *models.SendResult) {
	msg := *res.Message // the subscribers' copy: the caller keeps the original
	msg.ShareReads()
	added := models.Event{Kind: models.EventMessageAdded, ConversationID: msg.ConversationID, MessageID: msg.ID, Message: &msg}
	if res.Audience != nil {
		// A group's: every active member, each with what they had before.
		added.Audience, added.Prev, added.ConversationPrev = res.Audience, res.AudiencePrev, res.Prev.Conversation
		s.publish(ctx, added)
		return
	}
	if p := res.Prev; p != nil {
		added.ConversationPrev = p.Conversation
		added.Prev = []int64{p.Sender}
	}
	if res.Delivery == models.DeliveryInbox {
		added.Audience = []int64{msg.SenderID, res.RecipientID}
		if p := res.Prev; p != nil {
			added.Prev = append(added.Prev, p.Recipient)
		}
		s.publish(ctx, added)
		return
	}
	added.Audience = []int64{msg.SenderID}
	s.publish(ctx, added)
	s.publish(ctx, models.Event{Kind: models.EventChanged, Audience: []int64{res.RecipientID}})
}
