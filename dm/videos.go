package dm

import (
	"context"

	"dmgraph/models"
)

// PublishVideo publishes a video as the viewer.
func (s *Service) PublishVideo(ctx context.Context, caption, url string, vis models.VideoVisibility) (*models.Video, error) {
	viewer, err := models.ViewerID(ctx)
	if err != nil {
		return nil, err
	}
	if caption, err = models.CleanCaption(caption); err != nil {
		return nil, err
	}
	if url, err = models.CheckVideoURL(url); err != nil {
		return nil, err
	}
	v := &models.Video{OwnerID: viewer, Caption: caption, URL: url, Visibility: vis, CreatedAt: s.clock.Now()}
	if err := s.store.CreateVideo(ctx, v); err != nil {
		return nil, err
	}
	return v, nil
}

// Video returns a video the viewer can see.
func (s *Service) Video(ctx context.Context, id int64) (*models.Video, error) {
	viewer, err := models.ViewerID(ctx)
	if err != nil {
		return nil, err
	}
	v, err := s.store.VideoByID(ctx, id)
	if err != nil {
		return nil, err
	}
	rel, err := s.store.Relations(ctx, viewer, []int64{v.OwnerID})
	if err != nil {
		return nil, err
	}
	if !models.CanSeeVideo(viewer, v, rel[v.OwnerID]) {
		return nil, models.NotFound("video")
	}
	return v, nil
}

// UpdateVideo changes the visibility of one of the viewer's videos. Someone
// else's video that the viewer can see is FORBIDDEN; one they can't is NOT_FOUND.
func (s *Service) UpdateVideo(ctx context.Context, id int64, vis models.VideoVisibility) (*models.Video, error) {
	v, err := s.ownVideo(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := s.recorded(ctx, func(ctx context.Context) error {
		return s.store.SetVideoVisibility(ctx, v.OwnerID, id, vis)
	}); err != nil {
		return nil, err
	}
	v.Visibility = vis
	return v, nil
}

// DeleteVideo deletes one of the viewer's videos.
func (s *Service) DeleteVideo(ctx context.Context, id int64) error {
	v, err := s.ownVideo(ctx, id)
	if err != nil {
		return err
	}
	return s.recorded(ctx, func(ctx context.Context) error { return s.store.DeleteVideo(ctx, v.OwnerID, id) })
}

func (s *Service) ownVideo(ctx context.Context, id int64) (*models.Video, error) {
	v, err := s.Video(ctx, id)
	if err != nil {
		return nil, err
	}
	if viewer, _ := models.ViewerID(ctx); v.OwnerID != viewer {
		return nil, models.Refusal(models.CodeForbidden, models.ReasonNotOwner, "only the owner can change this video")
	}
	return v, nil
}

// Videos loads videos by ID, for batching; visibility is the caller's to check.
func (s *Service) Videos(ctx context.Context, ids []int64) (map[int64]*models.Video, error) {
	return s.store.VideosByIDs(ctx, ids)
}
