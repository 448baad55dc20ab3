package store

import (
	"context"

	"gorm.io/gorm"

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
	return translate(s.tx(ctx, func(tx *gorm.DB) error {
		mine := tx.Model(&models.Video{}).Where("id = ? AND owner_id = ?", id, ownerID)
		var v models.Video
		if err := mine.Session(&gorm.Session{}).Take(&v).Error; err != nil || v.Visibility == vis {
			return err // NOT_FOUND, or nothing changes
		}
		if err := mine.Update("visibility", vis).Error; err != nil {
			return err
		}
		return videoChanged(tx, id)
	}), "video")
}

// DeleteVideo removes ownerID's video. Messages keep the ID and show the
// video as unavailable.
func (s *Store) DeleteVideo(ctx context.Context, ownerID, id int64) error {
	return translate(s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Where("id = ? AND owner_id = ?", id, ownerID).Delete(&models.Video{})
		if res.Error == nil && res.RowsAffected == 0 {
			return gorm.ErrRecordNotFound
		}
		if res.Error != nil {
			return res.Error
		}
		return videoChanged(tx, id)
	}), "video")
}

// videoChanged records a MESSAGE_UPDATED for every message that shares the
// video, for each member who can see it: whether its video shows may have
// changed (idx_messages_video_id).
func videoChanged(tx *gorm.DB, videoID int64) error {
	var rows []models.Change
	err := tx.Raw(`SELECT m.user_id, msg.conversation_id, msg.id AS message_id
		FROM messages msg JOIN conversation_members m ON m.conversation_id = msg.conversation_id
		WHERE msg.video_id = ? AND m.status <> ? AND `+visibleSQL+`
		ORDER BY m.user_id, msg.id`, videoID, models.StatusDeleted).Scan(&rows).Error
	if err != nil || len(rows) == 0 {
		return err
	}
	users := make([]int64, 0, len(rows))
	for i := range rows {
		rows[i].Kind = models.ChangeMessageUpdated
		if i == 0 || rows[i].UserID != rows[i-1].UserID {
			users = append(users, rows[i].UserID)
		}
	}
	if err := lockUsers(tx, users...); err != nil {
		return err
	}
	return record(tx, rows...)
}
