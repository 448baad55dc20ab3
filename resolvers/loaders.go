package resolvers

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vikstrous/dataloadgen"

	"dmgraph/dm"
	"dmgraph/models"
	"dmgraph/relay"
)

// loaderWait is how long a loader gathers keys before it queries. Sibling
// resolvers run concurrently and enqueue within microseconds, and list
// resolvers queue their items' keys up front (prefetch.go). Every level of
// a query pays this wait once: 3 ms made the inbox page's p99 miss 10 ms
// (BENCHMARKS.md).
const loaderWait = 1 * time.Millisecond

// loaders batch the per-item lookups of one GraphQL operation. They are built
// per operation, so their caches never outlive it nor cross viewers.
type loaders struct {
	users     *dataloadgen.Loader[int64, *models.User]
	relations *dataloadgen.Loader[int64, models.Relation]
	videos    *dataloadgen.Loader[int64, *models.Video]
	messages  *dataloadgen.Loader[int64, *models.Message]
	members   *dataloadgen.Loader[int64, []*models.Member]
	unread    *dataloadgen.Loader[int64, int]
	views     *dataloadgen.Loader[int64, *models.ConversationView]
	suggested *dataloadgen.Loader[int64, []models.SuggestionReason]
	pages     *dataloadgen.Loader[pageKey, *models.MessageConnection]
	counts    *dataloadgen.Loader[int64, int]
	// permissions are the send rules' answers, by recipient.
	permissions *dataloadgen.Loader[int64, models.SendPermission]
	// openRequests are the viewer's open requests, by conversation.
	openRequests *dataloadgen.Loader[int64, *models.MessageRequest]
	// invitations are the additions waiting for the viewer's approval, by
	// conversation.
	invitations *dataloadgen.Loader[int64, []*models.GroupInvitation]

	// Set by list resolvers whose items ask for follow state: the members and
	// videos loaders then queue their users' relations before they return,
	// so those keys form one batch before any item resolver wakes up.
	memberRelations, ownerRelations atomic.Bool
	// Set by list resolvers whose items ask whether the viewer may send: the
	// members loader then queues the other members' permissions likewise.
	memberPermissions atomic.Bool
	// Set by list resolvers that load their conversations' members: a
	// message's sender then comes from them (memberUser).
	membersPrimed atomic.Bool
}

// timed ends a loader's reads at deadline. A query's reads already end with
// its operation, but a subscription event's fields are read under the
// subscription's context, which has no deadline: without one, a hung
// database would hold the event, and the socket, forever.
func timed[K comparable, V any](deadline time.Time, fetch func(context.Context, []K) (map[K]V, error)) func(context.Context, []K) (map[K]V, error) {
	return func(ctx context.Context, keys []K) (map[K]V, error) {
		ctx, cancel := context.WithDeadline(ctx, deadline)
		defer cancel()
		return fetch(ctx, keys)
	}
}

// newLoaders returns the loaders of one response, whose reads all end by d.
func newLoaders(svc *dm.Service, d time.Time) *loaders {
	w := dataloadgen.WithWait(loaderWait)
	l := &loaders{
		users:     dataloadgen.NewMappedLoader(timed(d, svc.Users), w),
		relations: dataloadgen.NewMappedLoader(timed(d, svc.Relations), w),
		messages:  dataloadgen.NewMappedLoader(timed(d, svc.MessagesByIDs), w),
		unread:    dataloadgen.NewMappedLoader(timed(d, svc.UnreadCounts), w),
		views:     dataloadgen.NewMappedLoader(timed(d, svc.ConversationsByIDs), w),
		suggested: dataloadgen.NewMappedLoader(timed(d, svc.Suggestions), w),
		pages:     dataloadgen.NewMappedLoader(timed(d, messagePages(svc)), w),
		counts:    dataloadgen.NewMappedLoader(timed(d, svc.MessageCounts), w),

		permissions:  dataloadgen.NewMappedLoader(timed(d, svc.SendPermissions), w),
		openRequests: dataloadgen.NewMappedLoader(timed(d, svc.OpenRequests), w),
		invitations:  dataloadgen.NewMappedLoader(timed(d, svc.GroupInvitations), w),
	}
	// These two prime other loaders (relations, permissions) with the
	// caller's context, not the timed one, which ends when their own read
	// returns.
	members, videos := timed(d, svc.Members), timed(d, svc.Videos)
	l.members = dataloadgen.NewMappedLoader(func(ctx context.Context, ids []int64) (map[int64][]*models.Member, error) {
		ms, err := members(ctx, ids)
		if err != nil {
			return ms, err
		}
		if l.memberRelations.Load() {
			l.relations.LoadAllThunk(ctx, memberIDs(ms, 0))
		}
		if l.memberPermissions.Load() {
			viewer, _ := models.ViewerID(ctx)
			l.permissions.LoadAllThunk(ctx, memberIDs(ms, viewer))
		}
		return ms, nil
	}, w)
	l.videos = dataloadgen.NewMappedLoader(func(ctx context.Context, ids []int64) (map[int64]*models.Video, error) {
		vs, err := videos(ctx, ids)
		if err == nil && l.ownerRelations.Load() {
			owners := make([]int64, 0, len(vs))
			for _, v := range vs {
				owners = append(owners, v.OwnerID)
			}
			l.relations.LoadAllThunk(ctx, owners)
		}
		return vs, err
	}, w)
	return l
}

// memberIDs lists the users of members, but not, when given, the viewer.
func memberIDs(ms map[int64][]*models.Member, viewer int64) []int64 {
	var users []int64
	for _, list := range ms {
		for _, m := range list {
			if m.UserID != viewer {
				users = append(users, m.UserID)
			}
		}
	}
	return users
}

type loadersKey struct{}

// lazyLoaders builds the loaders on first use. A subscription waits for its
// next event inside a response, for as long as it lives: an idle one then
// holds no loaders (about 2 KiB each, BENCHMARKS.md).
//
// Their reads share one deadline, the operation timeout after the loaders
// are first used: a query's, or one event's, reads end by then, all of them.
type lazyLoaders struct {
	once    sync.Once
	svc     *dm.Service
	timeout time.Duration
	l       *loaders
}

func withLoaders(ctx context.Context, svc *dm.Service, timeout time.Duration) context.Context {
	return context.WithValue(ctx, loadersKey{}, &lazyLoaders{svc: svc, timeout: timeout})
}

func loadersFrom(ctx context.Context) *loaders {
	z := ctx.Value(loadersKey{}).(*lazyLoaders)
	z.once.Do(func() { z.l = newLoaders(z.svc, time.Now().Add(z.timeout)) })
	return z.l
}

// load runs a loader and reports a missing key as NOT_FOUND.
func load[K comparable, V any](ctx context.Context, l *dataloadgen.Loader[K, V], id K, what string) (V, error) {
	v, err := l.Load(ctx, id)
	if errors.Is(err, dataloadgen.ErrNotFound) {
		return v, models.NotFound(what)
	}
	return v, err
}

func loadUser(ctx context.Context, id int64) (*models.User, error) {
	return load(ctx, loadersFrom(ctx).users, id, "user")
}

func loadMessage(ctx context.Context, id int64) (*models.Message, error) {
	return load(ctx, loadersFrom(ctx).messages, id, "message")
}

func loadView(ctx context.Context, id int64) (*models.ConversationView, error) {
	return load(ctx, loadersFrom(ctx).views, id, "conversation")
}

func loadRelation(ctx context.Context, id int64) (models.Relation, error) {
	rel, err := loadersFrom(ctx).relations.Load(ctx, id)
	if errors.Is(err, dataloadgen.ErrNotFound) {
		return models.Relation{}, nil // anonymous viewers relate to nobody
	}
	return rel, err
}

func loadMembers(ctx context.Context, convID int64) ([]*models.Member, error) {
	ms, err := loadersFrom(ctx).members.Load(ctx, convID)
	if errors.Is(err, dataloadgen.ErrNotFound) {
		return nil, nil
	}
	return ms, err
}

// memberUser returns a member's user through the conversation's members
// loader when a list resolver primed it (membersPrimed), else, or when the
// member is gone, through the users loader: loading a group's whole member
// list for one user cost a live delivery 32 rows and a blocks subquery.
func memberUser(ctx context.Context, convID, userID int64) (*models.User, error) {
	if !loadersFrom(ctx).membersPrimed.Load() {
		return loadUser(ctx, userID)
	}
	members, err := loadMembers(ctx, convID)
	if err != nil {
		return nil, err
	}
	for _, m := range members {
		if m.UserID == userID && m.User != nil {
			return m.User, nil
		}
	}
	return loadUser(ctx, userID)
}

func loadSuggestions(ctx context.Context, id int64) ([]models.SuggestionReason, error) {
	reasons, err := loadersFrom(ctx).suggested.Load(ctx, id)
	if errors.Is(err, dataloadgen.ErrNotFound) {
		return []models.SuggestionReason{}, nil // anonymous viewers get no suggestions
	}
	return reasons, err
}

// pageKey is one conversation's page of messages with given arguments.
type pageKey struct {
	ConversationID int64
	Args           relay.Args
}

// messagePages fetches the pages asked for, one statement per distinct set
// of arguments (a query normally has one).
func messagePages(svc *dm.Service) func(context.Context, []pageKey) (map[pageKey]*models.MessageConnection, error) {
	return func(ctx context.Context, keys []pageKey) (map[pageKey]*models.MessageConnection, error) {
		byArgs := map[relay.Args][]int64{}
		for _, k := range keys {
			byArgs[k.Args] = append(byArgs[k.Args], k.ConversationID)
		}
		out := make(map[pageKey]*models.MessageConnection, len(keys))
		for args, ids := range byArgs {
			pages, err := svc.MessagePages(ctx, ids, args)
			if err != nil {
				return nil, err
			}
			for id, page := range pages {
				out[pageKey{id, args}] = page
			}
		}
		return out, nil
	}
}
