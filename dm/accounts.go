package dm

import (
	"context"
	"errors"
	"fmt"

	"dmgraph/models"
	"dmgraph/relay"
)

// RegisterParams is a new account.
type RegisterParams struct {
	Username    string
	Password    string
	DisplayName string
	BirthDate   models.Date
}

// Passwords hashes and checks passwords; auth.Hasher is the real one.
type Passwords interface {
	Hash(password string) (string, error)
	Check(hash, password string) bool
	// CheckMissing takes as long as Check and fails: it answers for a
	// username that does not exist.
	CheckMissing(password string) bool
}

// Session is a signed-in user and their token.
type Session struct {
	Token string
	User  *models.User
}

// Register creates an account and signs it in.
func (s *Service) Register(ctx context.Context, p RegisterParams) (*Session, error) {
	if err := s.take(ctx, "register:ip:"+models.AddressKey(models.ClientIP(ctx)), s.limitsOrZero().RegisterIP, 1,
		models.ReasonTooManyAttempts, "too many sign-ups from this address; try again later"); err != nil {
		return nil, err
	}
	username, err := models.NormalizeUsername(p.Username)
	if err != nil {
		return nil, err
	}
	if err := models.CheckPassword(p.Password); err != nil {
		return nil, err
	}
	name, err := models.CleanDisplayName(p.DisplayName)
	if err != nil {
		return nil, err
	}
	today := s.clock.Now()
	if err := models.CheckAge(p.BirthDate.Time, today); err != nil {
		return nil, err
	}
	hash, err := s.hasher.Hash(p.Password)
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	band := models.AgeBandOf(p.BirthDate.Time, today)
	u := &models.User{Username: username, DisplayName: name, PasswordHash: hash,
		BirthDate: p.BirthDate.Time, DMPolicy: models.DefaultPolicy(band)}
	if err := s.store.CreateUser(ctx, u); err != nil {
		return nil, err
	}
	return s.session(u)
}

var errBadCredentials = models.Errorf(models.CodeUnauthenticated, "wrong username or password")

// Login signs in. It never says whether the username or the password was
// wrong. Attempts are limited per address, and failures per username: each
// attempt is charged to its username before its password is checked, so
// parallel guesses cannot all reach the check, and a right password gives
// its charge back. A password longer than any account can have is refused
// as registration refuses it, before any username is looked up.
func (s *Service) Login(ctx context.Context, username, password string) (*Session, error) {
	lim := s.limitsOrZero()
	const slowDown = "too many sign-in attempts; try again later"
	if err := s.take(ctx, "login:ip:"+models.AddressKey(models.ClientIP(ctx)), lim.LoginIP, 1, models.ReasonTooManyAttempts, slowDown); err != nil {
		return nil, err
	}
	if err := models.CheckPasswordLength(password); err != nil {
		return nil, err
	}
	name, err := models.NormalizeUsername(username)
	if err != nil {
		s.hasher.CheckMissing(password)
		return nil, errBadCredentials
	}
	failures := "login:fail:" + name
	if err := s.take(ctx, failures, lim.LoginFailures, 1, models.ReasonTooManyAttempts, slowDown); err != nil {
		return nil, err
	}
	u, err := s.store.UserByUsername(ctx, name)
	switch {
	case errors.Is(err, models.ErrNotFound):
		s.hasher.CheckMissing(password)
	case err != nil:
		s.refund(ctx, failures, lim.LoginFailures, 1) // no guess was checked
		return nil, err
	case s.hasher.Check(u.PasswordHash, password):
		s.refund(ctx, failures, lim.LoginFailures, 1)
		return s.session(u)
	}
	return nil, errBadCredentials
}

// Me returns the signed-in user, or nil when anonymous.
func (s *Service) Me(ctx context.Context) (*models.User, error) {
	id, err := models.ViewerID(ctx)
	if err != nil {
		return nil, nil
	}
	u, err := s.store.UserByID(ctx, id)
	if errors.Is(err, models.ErrNotFound) {
		return nil, nil
	}
	return u, err
}

// User returns a user by ID.
func (s *Service) User(ctx context.Context, id int64) (*models.User, error) {
	if _, err := models.ViewerID(ctx); err != nil {
		return nil, err
	}
	return s.store.UserByID(ctx, id)
}

// UserByUsername returns a user by username, in any case.
func (s *Service) UserByUsername(ctx context.Context, username string) (*models.User, error) {
	if _, err := models.ViewerID(ctx); err != nil {
		return nil, err
	}
	name, err := models.NormalizeUsername(username)
	if err != nil {
		return nil, models.NotFound("user")
	}
	return s.store.UserByUsername(ctx, name)
}

// Users loads users by ID, for batching.
func (s *Service) Users(ctx context.Context, ids []int64) (map[int64]*models.User, error) {
	return s.store.UsersByIDs(ctx, ids)
}

// Relations tells how the viewer relates to each user, for batching.
// Anonymous viewers relate to nobody.
func (s *Service) Relations(ctx context.Context, ids []int64) (map[int64]models.Relation, error) {
	viewer, err := models.ViewerID(ctx)
	if err != nil {
		return map[int64]models.Relation{}, nil
	}
	return s.store.Relations(ctx, viewer, ids)
}

// PrivacySettings returns the viewer's direct-message policy.
func (s *Service) PrivacySettings(ctx context.Context) (models.DirectMessagePolicy, error) {
	viewer, err := models.ViewerID(ctx)
	if err != nil {
		return "", err
	}
	u, err := s.store.UserByID(ctx, viewer)
	if err != nil {
		return "", err
	}
	return models.EffectivePolicy(models.AgeBandOf(u.BirthDate, s.clock.Now()), u.DMPolicy), nil
}

// UpdatePrivacySettings changes the viewer's direct-message policy.
func (s *Service) UpdatePrivacySettings(ctx context.Context, p models.DirectMessagePolicy) (models.DirectMessagePolicy, error) {
	viewer, err := models.ViewerID(ctx)
	if err != nil {
		return "", err
	}
	u, err := s.store.UserByID(ctx, viewer)
	if err != nil {
		return "", err
	}
	if err := models.CheckPolicyChoice(models.AgeBandOf(u.BirthDate, s.clock.Now()), p); err != nil {
		return "", err
	}
	if err := s.recorded(ctx, func(ctx context.Context) error { return s.store.SetDMPolicy(ctx, viewer, p) }); err != nil {
		return "", err
	}
	return p, nil
}

// edge runs a change between the viewer and another existing user, then
// returns that user as it now stands.
func (s *Service) edge(ctx context.Context, otherID int64, change func(ctx context.Context, viewer, other int64) error) (*models.User, error) {
	viewer, err := models.ViewerID(ctx)
	if err != nil {
		return nil, err
	}
	if otherID == viewer {
		return nil, models.Refusal(models.CodeBadUserInput, models.ReasonSelf, "you can't do that to yourself")
	}
	if _, err := s.store.UserByID(ctx, otherID); err != nil {
		return nil, err
	}
	if err := change(ctx, viewer, otherID); err != nil {
		return nil, err
	}
	return s.store.UserByID(ctx, otherID)
}

// Follow makes the viewer follow a user.
func (s *Service) Follow(ctx context.Context, userID int64) (*models.User, error) {
	return s.edge(ctx, userID, s.recordedEdge(s.store.Follow))
}

// Unfollow stops the viewer following a user.
func (s *Service) Unfollow(ctx context.Context, userID int64) (*models.User, error) {
	return s.edge(ctx, userID, s.recordedEdge(s.store.Unfollow))
}

// Block makes the viewer block a user.
func (s *Service) Block(ctx context.Context, userID int64) (*models.User, error) {
	return s.edge(ctx, userID, s.recordedEdge(s.store.Block))
}

// Unblock lifts the viewer's block on a user.
func (s *Service) Unblock(ctx context.Context, userID int64) (*models.User, error) {
	return s.edge(ctx, userID, s.recordedEdge(s.store.Unblock))
}

// Followers lists who follows a user.
func (s *Service) Followers(ctx context.Context, userID int64, args relay.Args) (*models.UserConnection, error) {
	return s.userList(ctx, userID, args, s.store.Followers)
}

// Following lists whom a user follows.
func (s *Service) Following(ctx context.Context, userID int64, args relay.Args) (*models.UserConnection, error) {
	return s.userList(ctx, userID, args, s.store.Following)
}

// BlockedUsers lists whom the viewer has blocked.
func (s *Service) BlockedUsers(ctx context.Context, args relay.Args) (*models.UserConnection, error) {
	viewer, err := models.ViewerID(ctx)
	if err != nil {
		return nil, err
	}
	return s.store.Blocked(ctx, viewer, args)
}

type userLister func(ctx context.Context, userID int64, args relay.Args) (*models.UserConnection, error)

func (s *Service) userList(ctx context.Context, userID int64, args relay.Args, list userLister) (*models.UserConnection, error) {
	if _, err := models.ViewerID(ctx); err != nil {
		return nil, err
	}
	if _, err := s.store.UserByID(ctx, userID); err != nil {
		return nil, err
	}
	return list(ctx, userID, args)
}
