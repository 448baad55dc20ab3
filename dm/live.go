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
// message ID after, oldest first; convID 0 means every conversation. Access
// is checked at every call, so at every delivery, not only when subscribing.
func (s *Service) MessagesAfter(ctx context.Context, convID, after int64, limit int) ([]*models.Message, error) {
	viewer, err := models.ViewerID(ctx)
	if err != nil {
		return nil, err
	}
	return s.store.MessagesAfter(ctx, viewer, convID, after, limit)
}

// LatestMessageID is the newest message the viewer gets live, in one
// conversation or (convID 0) in all: where a subscription without `after`
// starts.
func (s *Service) LatestMessageID(ctx context.Context, convID int64) (int64, error) {
	viewer, err := models.ViewerID(ctx)
	if err != nil {
		return 0, err
	}
	return s.store.LatestDeliverableID(ctx, viewer, convID)
}
