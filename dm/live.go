package dm

import (
	"context"

	"dmgraph/models"
)

// CheckMessageScope validates the scope of a messageAdded subscription: a
// conversation the viewer can see, or every conversation (nil).
func (s *Service) CheckMessageScope(ctx context.Context, convID *int64) error {
	viewer, err := models.ViewerID(ctx)
	if err != nil {
		return err
	}
	if convID == nil {
		return nil
	}
	_, err = s.store.View(ctx, viewer, *convID)
	return err
}

// MessagesAfter returns up to limit messages the viewer gets live, after the
// message ID after, oldest first; convID 0 means every conversation.
func (s *Service) MessagesAfter(ctx context.Context, convID, after int64, limit int) ([]*models.Message, error) {
	viewer, err := models.ViewerID(ctx)
	if err != nil {
		return nil, err
	}
	return s.store.MessagesAfter(ctx, viewer, convID, after, limit)
}

// DeliverableMessage returns a message if the viewer gets it live now:
// access is checked again at delivery, not only when subscribing.
func (s *Service) DeliverableMessage(ctx context.Context, id int64) (*models.Message, error) {
	viewer, err := models.ViewerID(ctx)
	if err != nil {
		return nil, err
	}
	return s.store.DeliverableMessage(ctx, viewer, id)
}
