package store

import (
	"context"
	"errors"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"dmgraph/models"
	"dmgraph/relay"
)

// NewContacts counts the hashes that are not yet in ownerID's synced
// contacts.
func (s *Store) NewContacts(ctx context.Context, ownerID int64, hashes []string) (int, error) {
	if len(hashes) == 0 {
		return 0, nil
	}
	var known int64
	err := s.db.WithContext(ctx).Model(&models.SyncedContact{}).
		Where("owner_id = ? AND phone_hash IN ?", ownerID, hashes).Count(&known).Error
	return len(hashes) - int(known), translate(err, "contacts")
}

// ReplaceContacts replaces ownerID's synced contacts with hashes and says how
// many of them belong to other users.
func (s *Store) ReplaceContacts(ctx context.Context, ownerID int64, hashes []string) (matched int, err error) {
	err = s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Where("owner_id = ?", ownerID).Delete(&models.SyncedContact{}).Error; err != nil {
			return err
		}
		rows := make([]models.SyncedContact, len(hashes))
		for i, h := range hashes {
			rows[i] = models.SyncedContact{OwnerID: ownerID, PhoneHash: h}
		}
		if len(rows) > 0 {
			if err := tx.Clauses(clause.OnConflict{DoNothing: true}).CreateInBatches(rows, 500).Error; err != nil {
				return err
			}
		}
		var n int64
		err := tx.Table("synced_contacts sc").Joins("JOIN users u ON u.phone_hash = sc.phone_hash").
			Where("sc.owner_id = ? AND u.id <> ?", ownerID, ownerID).Count(&n).Error
		matched = int(n)
		return err
	})
	return matched, translate(err, "contacts")
}

// RemoveContacts deletes ownerID's synced contacts.
func (s *Store) RemoveContacts(ctx context.Context, ownerID int64) error {
	return translate(s.db.WithContext(ctx).Where("owner_id = ?", ownerID).Delete(&models.SyncedContact{}).Error, "contacts")
}

// LinkFacebook ties userID to a Facebook account and replaces its friend
// list. A Facebook account linked to someone else is a CONFLICT.
func (s *Store) LinkFacebook(ctx context.Context, userID int64, facebookID string, friendIDs []string) error {
	err := s.tx(ctx, func(tx *gorm.DB) error {
		var owners []int64
		if err := tx.Model(&models.FacebookAccount{}).Where("facebook_user_id = ? AND user_id <> ?", facebookID, userID).
			Pluck("user_id", &owners).Error; err != nil {
			return err
		}
		if len(owners) > 0 {
			return models.Errorf(models.CodeConflict, "this Facebook account is linked to another account")
		}
		link := &models.FacebookAccount{UserID: userID, FacebookUserID: facebookID, LinkedAt: s.now()}
		if err := tx.Clauses(clause.OnConflict{
			Columns:   []clause.Column{{Name: "user_id"}},
			DoUpdates: clause.AssignmentColumns([]string{"facebook_user_id", "linked_at"}),
		}).Create(link).Error; err != nil {
			return err
		}
		if err := tx.Where("user_id = ?", userID).Delete(&models.FacebookFriend{}).Error; err != nil {
			return err
		}
		rows := make([]models.FacebookFriend, len(friendIDs))
		for i, id := range friendIDs {
			rows[i] = models.FacebookFriend{UserID: userID, FriendFacebookID: id}
		}
		if len(rows) == 0 {
			return nil
		}
		return tx.Clauses(clause.OnConflict{DoNothing: true}).CreateInBatches(rows, 500).Error
	})
	if errors.Is(err, gorm.ErrDuplicatedKey) { // a concurrent link of the same account won
		return models.Errorf(models.CodeConflict, "this Facebook account is linked to another account")
	}
	return translate(err, "facebook link")
}

// UnlinkFacebook removes userID's Facebook link and friend list.
func (s *Store) UnlinkFacebook(ctx context.Context, userID int64) error {
	return translate(s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Where("user_id = ?", userID).Delete(&models.FacebookFriend{}).Error; err != nil {
			return err
		}
		return tx.Where("user_id = ?", userID).Delete(&models.FacebookAccount{}).Error
	}), "facebook link")
}

// suggestionsSQL lists (user, reason) pairs for users suggested to @v: their
// number is in @v's contacts, or both linked Facebook and either friend list
// names the other. Every branch starts from @v's own rows or an index.
const suggestionsSQL = `
SELECT u.id AS user_id, 'CONTACTS' AS reason
	FROM synced_contacts sc JOIN users u ON u.phone_hash = sc.phone_hash
	WHERE sc.owner_id = @v AND u.id <> @v
UNION
SELECT l.user_id, 'FACEBOOK'
	FROM facebook_friends f JOIN facebook_links l ON l.facebook_user_id = f.friend_facebook_id
	WHERE f.user_id = @v AND l.user_id <> @v
UNION
SELECT f.user_id, 'FACEBOOK'
	FROM facebook_links me JOIN facebook_friends f ON f.friend_facebook_id = me.facebook_user_id
	JOIN facebook_links l ON l.user_id = f.user_id
	WHERE me.user_id = @v AND f.user_id <> @v`

type suggestionRow struct {
	UserID int64
	Reason models.SuggestionReason
}

// Suggestions says, for each of ids, why that user is suggested to viewerID
// (empty when not).
func (s *Store) Suggestions(ctx context.Context, viewerID int64, ids []int64) (map[int64][]models.SuggestionReason, error) {
	var rows []suggestionRow
	err := s.db.WithContext(ctx).Raw(`SELECT user_id, reason FROM (`+suggestionsSQL+`) x WHERE user_id IN @ids ORDER BY user_id, reason`,
		map[string]any{"v": viewerID, "ids": ids}).Scan(&rows).Error
	if err != nil {
		return nil, translate(err, "suggestions")
	}
	out := make(map[int64][]models.SuggestionReason, len(ids))
	for _, id := range ids {
		out[id] = []models.SuggestionReason{}
	}
	for _, r := range rows {
		out[r.UserID] = append(out[r.UserID], r.Reason)
	}
	return out, nil
}

// SuggestedFriends pages through the users suggested to viewerID, leaving out
// people the viewer follows and blocks either way, newest accounts first.
func (s *Store) SuggestedFriends(ctx context.Context, viewerID int64, args relay.Args) (*models.UserConnection, error) {
	base := func(ctx context.Context) *gorm.DB {
		return s.db.WithContext(ctx).Table("users u").
			Where(`u.id IN (SELECT user_id FROM (`+suggestionsSQL+`) x)
				AND NOT EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = @v AND f.followee_id = u.id)
				AND NOT EXISTS (SELECT 1 FROM blocks b WHERE (b.blocker_id = @v AND b.blocked_id = u.id)
					OR (b.blocker_id = u.id AND b.blocked_id = @v))`, map[string]any{"v": viewerID})
	}
	q := base(ctx).Select("u.*")
	if args.After != 0 {
		q = q.Where("u.id < ?", args.After)
	}
	var users []*models.User
	if err := q.Order("u.id DESC").Limit(args.Limit + 1).Scan(&users).Error; err != nil {
		return nil, translate(err, "suggested friends")
	}
	c := relay.Connection(args, users, func(u *models.User) int64 { return u.ID })
	c.Count = func(ctx context.Context) (int, error) {
		var n int64
		err := base(ctx).Count(&n).Error
		return int(n), translate(err, "suggested friends")
	}
	return c, nil
}

// Secret returns the named server secret, storing generate()'s value the
// first time. Concurrent first calls agree on one value.
func (s *Store) Secret(ctx context.Context, name string, generate func() (string, error)) (string, error) {
	v, err := generate()
	if err != nil {
		return "", err
	}
	db := s.db.WithContext(ctx)
	if err := db.Clauses(clause.OnConflict{DoNothing: true}).Create(&models.Secret{Name: name, Value: v}).Error; err != nil {
		return "", translate(err, "secret")
	}
	var sec models.Secret
	err = db.Where("name = ?", name).Take(&sec).Error
	return sec.Value, translate(err, "secret")
}
