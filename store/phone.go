package store

import (
	"context"
	"errors"

	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"dmgraph/models"
)

// migratePhoneVerification adds pending phone verifications. Numbers set
// before it were never verified: anyone could claim anyone's number. Only a
// verified number counts, so they are all cleared, and their owners verify
// them again.
var migratePhoneVerification = &gormigrate.Migration{
	ID: "202612020006_phone_verification",
	Migrate: func(tx *gorm.DB) error {
		if err := tx.AutoMigrate(&models.PhoneVerification{}); err != nil {
			return err
		}
		return tx.Exec(`UPDATE users SET phone_hash = NULL WHERE phone_hash IS NOT NULL`).Error
	},
}

// SavePhoneVerification replaces v.UserID's pending verification with v.
func (s *Store) SavePhoneVerification(ctx context.Context, v *models.PhoneVerification) error {
	err := s.db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "user_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"phone_hash", "code_hash", "attempts", "expires_at", "created_at"}),
	}).Create(v).Error
	return translate(err, "phone verification")
}

// VerifyPhone checks codeHash against userID's pending verification with
// models.CheckPhoneCode. A right code gives userID the number: it leaves
// any other account that had it, and the verification is done. A wrong one
// uses up an attempt. No pending verification is models.ErrNoPhoneCode.
func (s *Store) VerifyPhone(ctx context.Context, userID int64, codeHash string) error {
	var refusal error
	verify := func(tx *gorm.DB) error {
		refusal = nil
		var v models.PhoneVerification
		err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Where("user_id = ?", userID).Take(&v).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			refusal = models.ErrNoPhoneCode
			return nil
		}
		if err != nil {
			return err
		}
		counted, err := models.CheckPhoneCode(&v, codeHash, s.now())
		if err != nil {
			refusal = err
			if !counted {
				return nil
			}
			return tx.Model(&models.PhoneVerification{}).Where("user_id = ?", userID).Update("attempts", gorm.Expr("attempts + 1")).Error
		}
		if err := tx.Model(&models.User{}).Where("phone_hash = ? AND id <> ?", v.PhoneHash, userID).
			Update("phone_hash", nil).Error; err != nil {
			return err
		}
		if err := tx.Model(&models.User{}).Where("id = ?", userID).Update("phone_hash", v.PhoneHash).Error; err != nil {
			return err
		}
		return tx.Where("user_id = ?", userID).Delete(&models.PhoneVerification{}).Error
	}
	err := s.tx(ctx, verify)
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		// Another account verified the same number at the same moment and
		// committed first: take it from them now that their row is visible.
		err = s.tx(ctx, verify)
	}
	if err != nil {
		return translate(err, "phone verification")
	}
	return refusal
}
