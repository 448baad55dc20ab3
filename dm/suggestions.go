package dm

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"dmgraph/models"
	"dmgraph/phone"
	"dmgraph/ratelimit"
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

// SMSSender sends a text message to an E.164 number.
type SMSSender interface {
	Send(ctx context.Context, to, text string) error
}

// noSMS is the sender of a Service built without one.
type noSMS struct{}

func (noSMS) Send(context.Context, string, string) error {
	return errors.New("no SMS sender configured")
}

// MaxSyncedContacts bounds one syncContacts call.
const MaxSyncedContacts = 5000

// SetPhoneNumber sends a one-time code to number, which becomes the
// viewer's only when VerifyPhoneNumber gets the code back, and says when
// the code expires. The answer is the same whether the number is free,
// someone else's or already the viewer's: nothing here reads who has it.
func (s *Service) SetPhoneNumber(ctx context.Context, number, region string) (expiresAt time.Time, err error) {
	viewer, err := models.ViewerID(ctx)
	if err != nil {
		return time.Time{}, err
	}
	e164, err := phone.Normalize(number, region)
	if err != nil {
		return time.Time{}, err
	}
	hash := s.phones.Hash(e164)
	lim := s.limitsOrZero()
	// The number is looked at first, so that its refusal does not cost the
	// user, and charged last, so that a user over their limit cannot use up
	// someone else's number.
	const tooMany = "too many codes were sent; try again later"
	numberKey := "sms:number:" + hash
	for _, t := range []struct {
		key string
		l   ratelimit.Limit
		n   int
	}{{numberKey, lim.SMSNumber, 0}, {userKey("sms", viewer), lim.SMSUser, 1}, {numberKey, lim.SMSNumber, 1}} {
		if err := s.take(ctx, t.key, t.l, t.n, models.ReasonSMSLimit, tooMany); err != nil {
			return time.Time{}, err
		}
	}
	code, err := newPhoneCode()
	if err != nil {
		return time.Time{}, fmt.Errorf("phone code: %w", err)
	}
	now := s.clock.Now()
	v := &models.PhoneVerification{UserID: viewer, PhoneHash: hash, CodeHash: s.phoneCodeHash(viewer, code),
		ExpiresAt: now.Add(models.PhoneCodeTTL), CreatedAt: now}
	if err := s.store.SavePhoneVerification(ctx, v); err != nil {
		return time.Time{}, err
	}
	// After the commit: the SMS gateway may be slow, and holds no lock.
	if err := s.sms.Send(ctx, e164, "Your dmgraph code is "+code); err != nil {
		s.log.ErrorContext(ctx, "sending the phone code failed", "err", err)
		return time.Time{}, models.ErrUnavailable
	}
	return v.ExpiresAt, nil
}

// VerifyPhoneNumber checks the code SetPhoneNumber sent. The right one makes
// the number the viewer's: it counts for contacts and suggestions from now
// on, and leaves any other account that had it.
func (s *Service) VerifyPhoneNumber(ctx context.Context, code string) (*models.User, error) {
	viewer, err := models.ViewerID(ctx)
	if err != nil {
		return nil, err
	}
	code = strings.TrimSpace(code)
	if !isPhoneCode(code) {
		return nil, models.Invalid("the code is the %d digits we sent", phoneCodeDigits)
	}
	if err := s.store.VerifyPhone(ctx, viewer, s.phoneCodeHash(viewer, code)); err != nil {
		return nil, err
	}
	return s.store.UserByID(ctx, viewer)
}

const phoneCodeDigits = 6

// newPhoneCode draws a code of phoneCodeDigits random digits.
func newPhoneCode() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%06d", n.Int64()), nil
}

func isPhoneCode(s string) bool {
	if len(s) != phoneCodeDigits {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// phoneCodeHash keys a code with the phone hasher, so that the stored hash
// cannot be reversed by trying the million codes. The prefix keeps it apart
// from number hashes, which start with '+'.
func (s *Service) phoneCodeHash(userID int64, code string) string {
	return s.phones.Hash("code:" + strconv.FormatInt(userID, 10) + ":" + code)
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
	if err := s.takeContacts(ctx, viewer, hashes); err != nil {
		return SyncResult{}, err
	}
	res.Synced = len(hashes)
	res.Matched, err = s.store.ReplaceContacts(ctx, viewer, hashes)
	return res, err
}

// takeContacts charges the numbers new to the viewer's synced contacts to
// the daily contacts limit: syncing the same address book again is free.
func (s *Service) takeContacts(ctx context.Context, viewer int64, hashes []string) error {
	lim := s.limitsOrZero()
	if lim.Limiter == nil || lim.Contacts.Count == 0 || len(hashes) == 0 {
		return nil
	}
	fresh, err := s.store.NewContacts(ctx, viewer, hashes)
	if err != nil || fresh == 0 {
		return err
	}
	return s.take(ctx, userKey("contacts", viewer), lim.Contacts, fresh, models.ReasonContactsLimit,
		"too many new numbers were synced; try again later")
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
