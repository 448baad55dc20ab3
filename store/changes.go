package store

import (
	"context"

	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"

	"dmgraph/models"
)

// The change sequence (models.Change). Every write that changes what a user
// can observe records one change per user it touches, in the same
// transaction and under those users' row locks (lockUsers), so each user's
// positions are handed out in commit order; the write's caller, given a
// models.ChangeLog in its context, learns whom to wake up once it committed.

// migrateChanges adds the changes table.
var migrateChanges = &gormigrate.Migration{
	ID:      "202612020008_changes",
	Migrate: func(tx *gorm.DB) error { return tx.AutoMigrate(&models.Change{}) },
}

// record stores changes, whose users tx holds locked, in their users'
// sequences.
func record(tx *gorm.DB, changes ...models.Change) error {
	if len(changes) == 0 {
		return nil
	}
	t := tx.NowFunc()
	for i := range changes {
		changes[i].CreatedAt = t
	}
	if err := tx.Create(&changes).Error; err != nil {
		return err
	}
	logged(tx.Statement.Context, changes)
	return nil
}

// logged adds changes to the context's log, if any. The log is the
// transaction's: tx rolls it back with a failed attempt.
func logged(ctx context.Context, changes []models.Change) {
	if l := models.ChangeLogFrom(ctx); l != nil {
		l.Changes = append(l.Changes, changes...)
	}
}

// Changes returns up to limit of userID's changes after position since,
// oldest first.
func (s *Store) Changes(ctx context.Context, userID, since int64, limit int) ([]*models.Change, error) {
	var out []*models.Change
	err := s.db.WithContext(ctx).Where("user_id = ? AND id > ?", userID, since).
		Order("id").Limit(limit).Find(&out).Error
	return out, translate(err, "changes")
}

// LatestChange is the position of userID's newest change; 0 when none.
func (s *Store) LatestChange(ctx context.Context, userID int64) (int64, error) {
	var ids []int64
	err := s.db.WithContext(ctx).Model(&models.Change{}).Where("user_id = ?", userID).
		Order("id DESC").Limit(1).Pluck("id", &ids).Error
	if err != nil || len(ids) == 0 {
		return 0, translate(err, "changes")
	}
	return ids[0], nil
}
