package dm

import (
	"context"
	"errors"

	"dmgraph/models"
	"dmgraph/phone"
	"dmgraph/relay"
)

// FacebookClient reads a user's Facebook ID and friend IDs with their token.
type FacebookClient interface {
	Friends(ctx context.Context, accessToken string) (userID string, friendIDs []string, err error)
}

// PhoneHasher turns an E.164 number into the keyed hash we store instead.
type PhoneHasher interface {
	Hash(e164 string) string
}

// MaxSyncedContacts bounds one syncContacts call.
const MaxSyncedContacts = 5000

// SetPhoneNumber records the viewer's own number, as a keyed hash.
func (s *Service) SetPhoneNumber(ctx context.Context, number, region string) (*models.User, error) {
	viewer, err := models.ViewerID(ctx)
	if err != nil {
		return nil, err
	}
	e164, err := phone.Normalize(number, region)
	if err != nil {
		return nil, err
	}
	if err := s.store.SetPhoneHash(ctx, viewer, s.phones.Hash(e164)); err != nil {
		return nil, err
	}
	return s.store.UserByID(ctx, viewer)
}

// SyncResult counts what syncContacts kept.
type SyncResult struct {
	Synced, Matched, Invalid int
}

// SyncContacts replaces the viewer's synced contacts. Invalid numbers are
// counted and skipped.
func (s *Service) SyncContacts(ctx context.Context, numbers []string, region string) (SyncResult, error) {
	viewer, err := models.ViewerID(ctx)
	if err != nil {
		return SyncResult{}, err
	}
	if len(numbers) > MaxSyncedContacts {
		return SyncResult{}, models.Invalid("sync at most %d numbers at a time", MaxSyncedContacts)
	}
	// A bad region is one mistake, not thousands of invalid numbers.
	if _, err := phone.CheckRegion(region); err != nil {
		return SyncResult{}, err
	}
	var res SyncResult
	seen := make(map[string]bool, len(numbers))
	hashes := make([]string, 0, len(numbers))
	for _, n := range numbers {
		e164, err := phone.Normalize(n, region)
		if err != nil {
			res.Invalid++
			continue
		}
		if h := s.phones.Hash(e164); !seen[h] {
			seen[h] = true
			hashes = append(hashes, h)
		}
	}
	res.Synced = len(hashes)
	res.Matched, err = s.store.ReplaceContacts(ctx, viewer, hashes)
	return res, err
}

// RemoveSyncedContacts deletes the viewer's synced contacts.
func (s *Service) RemoveSyncedContacts(ctx context.Context) error {
	viewer, err := models.ViewerID(ctx)
	if err != nil {
		return err
	}
	return s.store.RemoveContacts(ctx, viewer)
}

// LinkFacebook links the viewer's Facebook account and imports its friends.
func (s *Service) LinkFacebook(ctx context.Context, accessToken string) (facebookID string, friends int, err error) {
	viewer, err := models.ViewerID(ctx)
	if err != nil {
		return "", 0, err
	}
	if s.facebook == nil {
		return "", 0, errors.New("no Facebook client configured")
	}
	facebookID, ids, err := s.facebook.Friends(ctx, accessToken)
	if err != nil {
		return "", 0, err
	}
	if err := s.store.LinkFacebook(ctx, viewer, facebookID, ids); err != nil {
		return "", 0, err
	}
	return facebookID, len(ids), nil
}

// UnlinkFacebook forgets the viewer's Facebook account and friends.
func (s *Service) UnlinkFacebook(ctx context.Context) error {
	viewer, err := models.ViewerID(ctx)
	if err != nil {
		return err
	}
	return s.store.UnlinkFacebook(ctx, viewer)
}

// Suggestions says why each user is suggested to the viewer, for batching.
func (s *Service) Suggestions(ctx context.Context, ids []int64) (map[int64][]models.SuggestionReason, error) {
	viewer, err := models.ViewerID(ctx)
	if err != nil {
		return map[int64][]models.SuggestionReason{}, nil
	}
	return s.store.Suggestions(ctx, viewer, ids)
}

// SuggestedFriends pages through the viewer's suggested friends.
func (s *Service) SuggestedFriends(ctx context.Context, args relay.Args) (*models.UserConnection, error) {
	viewer, err := models.ViewerID(ctx)
	if err != nil {
		return nil, err
	}
	return s.store.SuggestedFriends(ctx, viewer, args)
}
