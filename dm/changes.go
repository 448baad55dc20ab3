package dm

import (
	"context"

	"dmgraph/models"
)

// Changes returns up to limit of the viewer's changes after position since,
// oldest first.
func (s *Service) Changes(ctx context.Context, since int64, limit int) ([]*models.Change, error) {
	viewer, err := models.ViewerID(ctx)
	if err != nil {
		return nil, err
	}
	return s.store.Changes(ctx, viewer, since, limit)
}

// LatestChange is the position of the viewer's newest change (0 for none):
// where a sync without a position starts.
func (s *Service) LatestChange(ctx context.Context) (int64, error) {
	viewer, err := models.ViewerID(ctx)
	if err != nil {
		return 0, err
	}
	return s.store.LatestChange(ctx, viewer)
}
