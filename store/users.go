package store

import (
	"context"
	"errors"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"dmgraph/models"
	"dmgraph/relay"
)

// CreateUser inserts a user. A taken username is a CONFLICT.
func (s *Store) CreateUser(ctx context.Context, u *models.User) error {
	err := s.db.WithContext(ctx).Create(u).Error
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return models.Errorf(models.CodeConflict, "the username %q is taken", u.Username)
	}
	return translate(err, "user")
}

// UserByUsername finds a user by normalized username.
func (s *Store) UserByUsername(ctx context.Context, username string) (*models.User, error) {
	var u models.User
	err := s.db.WithContext(ctx).Where("username = ?", username).Take(&u).Error
	return &u, translate(err, "user")
}

// UserByID finds a user.
func (s *Store) UserByID(ctx context.Context, id int64) (*models.User, error) {
	var u models.User
	err := s.db.WithContext(ctx).Take(&u, id).Error
	return &u, translate(err, "user")
}

// UsersByIDs loads users in one statement; missing IDs are absent.
func (s *Store) UsersByIDs(ctx context.Context, ids []int64) (map[int64]*models.User, error) {
	var users []*models.User
	if err := s.db.WithContext(ctx).Where("id IN ?", ids).Find(&users).Error; err != nil {
		return nil, translate(err, "users")
	}
	out := make(map[int64]*models.User, len(users))
	for _, u := range users {
		out[u.ID] = u
	}
	return out, nil
}

// SetDMPolicy changes a user's direct-message setting.
func (s *Store) SetDMPolicy(ctx context.Context, userID int64, p models.DirectMessagePolicy) error {
	return translate(s.tx(ctx, func(tx *gorm.DB) error {
		if err := lockUsers(tx, userID); err != nil {
			return err
		}
		res := tx.Model(&models.User{}).Where("id = ? AND dm_policy <> ?", userID, p).Update("dm_policy", p)
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error // unchanged (or no such user: the viewer exists)
		}
		return record(tx, models.Change{UserID: userID, Kind: models.ChangeSettingsUpdated})
	}), "user")
}

// TokenVersions returns the current token versions of users, by ID.
func (s *Store) TokenVersions(ctx context.Context, ids []int64) (map[int64]int64, error) {
	var rows []struct{ ID, TokenVersion int64 }
	err := s.db.WithContext(ctx).Model(&models.User{}).Select("id, token_version").
		Where("id IN ?", ids).Find(&rows).Error
	if err != nil {
		return nil, translate(err, "user")
	}
	out := make(map[int64]int64, len(rows))
	for _, r := range rows {
		out[r.ID] = r.TokenVersion
	}
	return out, nil
}

// RevokeTokens moves the user's token version on, voiding every token
// issued so far, and returns the new version.
func (s *Store) RevokeTokens(ctx context.Context, userID int64) (int64, error) {
	var versions []int64
	err := s.db.WithContext(ctx).Raw(`UPDATE users SET token_version = token_version + 1
		WHERE id = ? RETURNING token_version`, userID).Scan(&versions).Error
	if err != nil {
		return 0, translate(err, "user")
	}
	if len(versions) == 0 {
		return 0, models.NotFound("user")
	}
	return versions[0], nil
}

// Relations tells, for each of ids, how viewerID relates to that user. One
// statement whatever the number of IDs.
func (s *Store) Relations(ctx context.Context, viewerID int64, ids []int64) (map[int64]models.Relation, error) {
	var rows []struct {
		Kind  string
		Other int64
	}
	err := s.db.WithContext(ctx).Raw(`
		SELECT 'f' AS kind, followee_id AS other FROM follows WHERE follower_id = @v AND followee_id IN @ids
		UNION ALL
		SELECT 'r', follower_id FROM follows WHERE followee_id = @v AND follower_id IN @ids
		UNION ALL
		SELECT 'b', blocked_id FROM blocks WHERE blocker_id = @v AND blocked_id IN @ids
		UNION ALL
		SELECT 'x', blocker_id FROM blocks WHERE blocked_id = @v AND blocker_id IN @ids`,
		map[string]any{"v": viewerID, "ids": ids}).Scan(&rows).Error
	if err != nil {
		return nil, translate(err, "relations")
	}
	out := make(map[int64]models.Relation, len(ids))
	for _, id := range ids {
		out[id] = models.Relation{}
	}
	for _, r := range rows {
		rel := out[r.Other]
		switch r.Kind {
		case "f":
			rel.ViewerFollows = true
		case "r":
			rel.FollowsViewer = true
		case "b":
			rel.BlockedByViewer = true
		case "x":
			rel.BlocksViewer = true
		}
		out[r.Other] = rel
	}
	return out, nil
}

// blockedEither reports whether a and b have blocked each other in any direction.
func blockedEither(tx *gorm.DB, a, b int64) (bool, error) {
	var n int64
	err := tx.Model(&models.Block{}).
		Where("(blocker_id = ? AND blocked_id = ?) OR (blocker_id = ? AND blocked_id = ?)", a, b, b, a).
		Count(&n).Error
	return n > 0, err
}

// Follow makes follower follow followee. Following twice is a no-op; a block
// in either direction refuses it.
func (s *Store) Follow(ctx context.Context, follower, followee int64) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		if err := lockUsers(tx, follower, followee); err != nil {
			return err
		}
		blocked, err := blockedEither(tx, follower, followee)
		if err != nil {
			return err
		}
		if blocked {
			return models.Refusal(models.CodeForbidden, models.ReasonBlocked, "you can't follow this account")
		}
		res := tx.Clauses(clause.OnConflict{DoNothing: true}).
			Create(&models.Follow{FollowerID: follower, FolloweeID: followee})
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		if err := adjustFollowCounts(tx, follower, followee, 1); err != nil {
			return err
		}
		return record(tx, models.Change{UserID: follower, Kind: models.ChangeUserFollowed, OtherUserID: followee})
	})
}

// Unfollow removes a follow, if any.
func (s *Store) Unfollow(ctx context.Context, follower, followee int64) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		if err := lockUsers(tx, follower, followee); err != nil {
			return err
		}
		return unfollow(tx, follower, followee)
	})
}

// unfollow removes a follow, if any, and records it in the follower's
// sequence, whoever ended it: the follower, or a block either way. tx holds
// both users locked.
func unfollow(tx *gorm.DB, follower, followee int64) error {
	res := tx.Where("follower_id = ? AND followee_id = ?", follower, followee).Delete(&models.Follow{})
	if res.Error != nil || res.RowsAffected == 0 {
		return res.Error
	}
	if err := adjustFollowCounts(tx, follower, followee, -1); err != nil {
		return err
	}
	return record(tx, models.Change{UserID: follower, Kind: models.ChangeUserUnfollowed, OtherUserID: followee})
}

func adjustFollowCounts(tx *gorm.DB, follower, followee int64, by int) error {
	if err := tx.Model(&models.User{}).Where("id = ?", follower).
		Update("following_count", gorm.Expr("following_count + ?", by)).Error; err != nil {
		return err
	}
	return tx.Model(&models.User{}).Where("id = ?", followee).
		Update("follower_count", gorm.Expr("follower_count + ?", by)).Error
}

// Block makes blocker block blocked. It removes follows both ways and any
// open request from the blocked user.
func (s *Store) Block(ctx context.Context, blocker, blocked int64) error {
	return s.tx(ctx, func(tx *gorm.DB) error { return block(tx, blocker, blocked) })
}

func block(tx *gorm.DB, blocker, blocked int64) error {
	if err := lockPair(tx, blocker, blocked); err != nil {
		return err
	}
	res := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&models.Block{BlockerID: blocker, BlockedID: blocked})
	if res.Error != nil || res.RowsAffected == 0 {
		return res.Error // blocked already
	}
	if err := unfollow(tx, blocker, blocked); err != nil {
		return err
	}
	if err := unfollow(tx, blocked, blocker); err != nil {
		return err
	}
	// Pending requests between the two go, in both directions: the blocked
	// user's to the blocker, and the blocker's own, which they no longer want.
	var open []*models.MessageRequest
	if err := tx.Where("((recipient_id = ? AND sender_id = ?) OR (recipient_id = ? AND sender_id = ?)) AND status = ?",
		blocker, blocked, blocked, blocker, models.RequestOpen).Find(&open).Error; err != nil {
		return err
	}
	mine := models.Change{UserID: blocker, Kind: models.ChangeUserBlocked, OtherUserID: blocked}
	theirs := models.Change{UserID: blocked, Kind: models.ChangeConversationBlocked, OtherUserID: blocker}
	for _, r := range open {
		status := models.RequestBlocked
		if r.SenderID == blocker {
			status = models.RequestWithdrawn
		}
		if err := closeRequest(tx, r, status); err != nil {
			return err
		}
		// Each side's requests tab loses the request it had received.
		if r.RecipientID == blocker {
			mine.RequestID = r.ID
		} else {
			theirs.RequestID = r.ID
		}
	}
	if err := endInvitation(tx, blocker, blocked); err != nil {
		return err
	}
	return recordBlock(tx, mine, theirs)
}

// recordBlock records a block's or an unblock's changes: the blocker's,
// about the user, and, when the two have a conversation, the other's about
// it (whether they may send there changed).
func recordBlock(tx *gorm.DB, mine, theirs models.Change) error {
	var convs []int64
	if err := tx.Model(&models.Member{}).
		Where("user_id = ? AND conversation_id IN (SELECT id FROM conversations WHERE direct_key = ?)",
			theirs.UserID, directKey(mine.UserID, theirs.UserID)).Pluck("conversation_id", &convs).Error; err != nil {
		return err
	}
	if len(convs) == 0 {
		return record(tx, mine)
	}
	mine.ConversationID, theirs.ConversationID = convs[0], convs[0]
	return record(tx, mine, theirs)
}

// Unblock lifts a block, if any.
func (s *Store) Unblock(ctx context.Context, blocker, blocked int64) error {
	return translate(s.tx(ctx, func(tx *gorm.DB) error {
		if err := lockPair(tx, blocker, blocked); err != nil {
			return err
		}
		res := tx.Where("blocker_id = ? AND blocked_id = ?", blocker, blocked).Delete(&models.Block{})
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		return recordBlock(tx, models.Change{UserID: blocker, Kind: models.ChangeUserUnblocked, OtherUserID: blocked},
			models.Change{UserID: blocked, Kind: models.ChangeConversationUnblocked, OtherUserID: blocker})
	}), "block")
}

// userListRow is a user plus the key its list is ordered by.
type userListRow struct {
	models.User
	ListKey int64
}

// Followers lists who follows userID, most recent first.
func (s *Store) Followers(ctx context.Context, userID int64, args relay.Args) (*models.UserConnection, error) {
	return s.userList(ctx, args, "follows", "follower_id", "followee_id", userID)
}

// Following lists whom userID follows, most recent first.
func (s *Store) Following(ctx context.Context, userID int64, args relay.Args) (*models.UserConnection, error) {
	return s.userList(ctx, args, "follows", "followee_id", "follower_id", userID)
}

// Blocked lists whom userID has blocked, most recent first.
func (s *Store) Blocked(ctx context.Context, userID int64, args relay.Args) (*models.UserConnection, error) {
	return s.userList(ctx, args, "blocks", "blocked_id", "blocker_id", userID)
}

// userList pages through an edge table (follows or blocks): the users in
// column listed, for rows whose column owner is ownerID. The table and column
// names are constants from the callers above, never input.
func (s *Store) userList(ctx context.Context, args relay.Args, table, listed, owner string, ownerID int64) (*models.UserConnection, error) {
	q := s.db.WithContext(ctx).Table(table+" e").
		Select("u.*, e.id AS list_key").
		Joins("JOIN users u ON u.id = e."+listed).
		Where("e."+owner+" = ?", ownerID)
	if args.After != 0 {
		q = q.Where("e.id < ?", args.After)
	}
	var rows []*userListRow
	if err := q.Order("e.id DESC").Limit(args.Limit + 1).Scan(&rows).Error; err != nil {
		return nil, translate(err, "users")
	}
	keys := make(map[*models.User]int64, len(rows))
	users := make([]*models.User, len(rows))
	for i, r := range rows {
		users[i] = &r.User
		keys[users[i]] = r.ListKey
	}
	c := relay.Connection(args, users, func(u *models.User) int64 { return keys[u] })
	c.Count = func(ctx context.Context) (int, error) {
		var n int64
		err := s.db.WithContext(ctx).Table(table).Where(owner+" = ?", ownerID).Count(&n).Error
		return int(n), translate(err, "users")
	}
	return c, nil
}
