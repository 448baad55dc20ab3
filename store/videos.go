package store

import (
	"context"

	"dmgraph/models"
)

// CreateVideo inserts a video.
func (s *Store) CreateVideo(ctx context.Context, v *models.Video) error {
	return translate(s.db.WithContext(ctx).Create(v).Error, "video")
}

// VideosByIDs loads videos in one statement; deleted ones are absent.
func (s *Store) VideosByIDs(ctx context.Context, ids []int64) (map[int64]*models.Video, error) {
	var vs []*models.Video
	if err := s.db.WithContext(ctx).Where("id IN ?", ids).Find(&vs).Error; err != nil {
		return nil, translate(err, "videos")
	}
	out := make(map[int64]*models.Video, len(vs))
	for _, v := range vs {
		out[v.ID] = v
	}
	return out, nil
}

// VideoByID finds a video.
func (s *Store) VideoByID(ctx context.Context, id int64) (*models.Video, error) {
	var v models.Video
	err := s.db.WithContext(ctx).Take(&v, id).Error
	return &v, translate(err, "video")
}

// SetVideoVisibility changes the visibility of ownerID's video.
func (s *Store) SetVideoVisibility(ctx context.Context, ownerID, id int64, vis models.VideoVisibility) error {
	res := s.db.WithContext(ctx).Model(&models.Video{}).
		Where("id = ? AND owner_id = ?", id, ownerID).Update("visibility", vis)
	if res.Error == nil && res.RowsAffected == 0 {
		return models.NotFound("video")
	}
	return translate(res.Error, "video")
}

// DeleteVideo removes ownerID's video. Messages keep the ID and show the
// video as unavailable.
func (s *Store) DeleteVideo(ctx context.Context, ownerID, id int64) error {
	res := s.db.WithContext(ctx).Where("id = ? AND owner_id = ?", id, ownerID).Delete(&models.Video{})
	if res.Error == nil && res.RowsAffected == 0 {
		return models.NotFound("video")
	}
	return translate(res.Error, "video")
}
