package store

import (
	"context"
	"database/sql"
	"slices"
	"time"

	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"dmgraph/models"
)

// Groups. Every group write takes the conversation's row lock first, then
// the row locks of every user it records a change for (lockUsers, in ID
// order): the send rule's lock order, so group writes, 1:1 sends and the
// social graph's writes never deadlock, and each member's message IDs and
// change positions are handed out in commit order. Membership changes are
// recorded three ways in the one transaction: the member rows, a system
// message in the group's history, and a typed change in every member's
// sequence that carries that message.

// migrateGroups adds the group columns (a former member's title among
// them) and the invitations table.
var migrateGroups = &gormigrate.Migration{
	ID: "202612020009_groups",
	Migrate: func(tx *gorm.DB) error {
		return tx.AutoMigrate(&models.Conversation{}, &models.Member{}, &models.Message{},
			&models.Change{}, &models.GroupInvitation{})
	},
}

// visibleSQL says that message msg is visible to member m: after the mark
// a deleted request left, and, for a former group member, no later than
// their last message, which stopped moving when they left.
const visibleSQL = `msg.id > m.cleared_through_id AND (m.status <> 'LEFT' OR msg.id <= m.last_message_id)`

// group is a group as a write finds it under its lock.
type group struct {
	conv models.Conversation
	// members are every member row, former members included, in join order.
	members []models.Member
}

// active returns the active members, in join order.
func (g *group) active() []models.Member {
	var out []models.Member
	for _, m := range g.members {
		if m.Status == models.StatusActive {
			out = append(out, m)
		}
	}
	return out
}

func (g *group) activeIDs() []int64 {
	var out []int64
	for _, m := range g.active() {
		out = append(out, m.UserID)
	}
	return out
}

func (g *group) member(userID int64) *models.Member {
	for i := range g.members {
		if g.members[i].UserID == userID {
			return &g.members[i]
		}
	}
	return nil
}

// lockGroup takes the conversation's row lock and reads the group, for the
// viewer: NOT_FOUND unless it is a group the viewer can see; with active,
// ErrNotGroupMember unless the viewer is an active member.
func lockGroup(tx *gorm.DB, convID, viewerID int64, active bool) (*group, error) {
	return findGroup(tx, convID, viewerID, active, true)
}

// readGroup is lockGroup without the lock, for reads.
func readGroup(tx *gorm.DB, convID, viewerID int64) (*group, error) {
	return findGroup(tx, convID, viewerID, true, false)
}

// groupSQL reads a conversation for findGroup, scanned by hand: every group
// send runs it.
const groupSQL = `SELECT id, kind, title, creator_id, last_message_id, last_message_at, created_at, updated_at
FROM conversations WHERE id = ?`

// findGroup reads the conversation (taking its row lock with lock, on
// PostgreSQL: SQLite has one writer anyway) and its members, and checks the
// viewer's place in it.
func findGroup(tx *gorm.DB, convID, viewerID int64, active, lock bool) (*group, error) {
	q := groupSQL
	if lock && tx.Dialector.Name() == "postgres" {
		q += " FOR UPDATE"
	}
	convs, err := scanAll(tx.Raw(q, convID), func(rows *sql.Rows) (models.Conversation, error) {
		var c models.Conversation
		return c, rows.Scan(&c.ID, &c.Kind, &c.Title, &c.CreatorID, &c.LastMessageID, &c.LastMessageAt, &c.CreatedAt, &c.UpdatedAt)
	})
	if err != nil {
		return nil, err
	}
	if len(convs) == 0 {
		return nil, gorm.ErrRecordNotFound
	}
	g := &group{conv: convs[0]}
	if err := readMembers(tx, g); err != nil {
		return nil, err
	}
	me := g.member(viewerID)
	if me == nil || me.Status == models.StatusDeleted {
		return nil, gorm.ErrRecordNotFound
	}
	if g.conv.Kind != models.KindGroup {
		return nil, models.Invalid("this conversation is not a group")
	}
	if active && me.Status != models.StatusActive {
		return nil, models.ErrNotGroupMember
	}
	return g, nil
}

// readMembers reads g's member rows, in join order. Scanned by hand: every
// group send reads up to 32 of them.
func readMembers(tx *gorm.DB, g *group) error {
	var err error
	g.members, err = scanAll(tx.Raw(`SELECT user_id, status, role, last_message_id, last_read_message_id, read_at,
		cleared_through_id, created_at FROM conversation_members WHERE conversation_id = ? ORDER BY created_at, user_id`,
		g.conv.ID), func(rows *sql.Rows) (models.Member, error) {
		m := models.Member{ConversationID: g.conv.ID}
		return m, rows.Scan(&m.UserID, &m.Status, &m.Role, &m.LastMessageID, &m.LastReadMessageID, &m.ReadAt,
			&m.ClearedThroughID, &m.CreatedAt)
	})
	return err
}

// addFactsSQL reads models.AddFacts for an adder and each of @ids.
const addFactsSQL = `SELECT u.id AS target_id, u.birth_date AS target_birth_date, u.dm_policy AS target_policy,
	EXISTS (SELECT 1 FROM blocks b WHERE (b.blocker_id = @a AND b.blocked_id = u.id)
		OR (b.blocker_id = u.id AND b.blocked_id = @a)) AS blocked,
	(EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = @a AND f.followee_id = u.id)
	 AND EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = u.id AND f.followee_id = @a)) AS friends
FROM users u WHERE u.id IN @ids`

// addFacts reads the facts of adding each of ids by adder, in ids' order:
// one statement.
func addFacts(tx *gorm.DB, adder int64, ids []int64) ([]models.AddFacts, error) {
	var a models.User
	if err := tx.Select("id", "birth_date").Where("id = ?", adder).Take(&a).Error; err != nil {
		return nil, err
	}
	var rows []struct {
		TargetID        int64
		TargetBirthDate time.Time
		TargetPolicy    models.DirectMessagePolicy
		Blocked         bool
		Friends         bool
	}
	if len(ids) > 0 {
		if err := tx.Raw(addFactsSQL, map[string]any{"a": adder, "ids": ids}).Scan(&rows).Error; err != nil {
			return nil, err
		}
	}
	out := make([]models.AddFacts, len(ids))
	for i, id := range ids {
		out[i] = models.AddFacts{AdderID: adder, TargetID: id, AdderBirthDate: a.BirthDate}
		for _, r := range rows {
			if r.TargetID == id {
				out[i].TargetExists, out[i].TargetBirthDate, out[i].TargetPolicy = true, r.TargetBirthDate, r.TargetPolicy
				out[i].Blocked, out[i].Friends = r.Blocked, r.Friends
			}
		}
	}
	return out, nil
}

// decideAdds applies models.DecideAdd to each addition, in order: the
// first refusal refuses them all.
func decideAdds(facts []models.AddFacts, now time.Time) error {
	for _, f := range facts {
		if err := models.DecideAdd(f, now); err != nil {
			return err
		}
	}
	return nil
}

// CreateGroup creates a group of p.ViewerID, its owner, and p.UserIDs.
func (s *Store) CreateGroup(ctx context.Context, p models.GroupParams) (*models.ConversationView, error) {
	var view *models.ConversationView
	err := s.tx(ctx, func(tx *gorm.DB) error {
		t := s.now()
		ids := append([]int64{p.ViewerID}, p.UserIDs...)
		if err := lockUsers(tx, ids...); err != nil {
			return err
		}
		var creator models.User
		if err := tx.Where("id = ?", p.ViewerID).Take(&creator).Error; err != nil {
			return err
		}
		if err := models.CheckGroupCreator(creator.BirthDate, creator.DMPolicy, t); err != nil {
			return err
		}
		facts, err := addFacts(tx, p.ViewerID, p.UserIDs)
		if err != nil {
			return err
		}
		if err := decideAdds(facts, t); err != nil {
			return err
		}
		if len(ids) > p.Max {
			return models.GroupFull(p.Max)
		}
		conv := models.Conversation{Kind: models.KindGroup, Title: p.Title, CreatorID: p.ViewerID, CreatedAt: t, UpdatedAt: t}
		if err := tx.Create(&conv).Error; err != nil {
			return err
		}
		members := make([]models.Member, len(ids))
		for i, id := range ids {
			role := models.RoleMember
			if id == p.ViewerID {
				role = models.RoleOwner
			}
			members[i] = models.Member{ConversationID: conv.ID, UserID: id, Status: models.StatusActive,
				Role: role, CreatedAt: t}
		}
		if err := tx.Create(&members).Error; err != nil {
			return err
		}
		msg := models.SystemMessage(conv.ID, p.ViewerID, models.EventGroupCreated, 0, nil, t)
		changes, err := systemMessages(tx, &conv, p.ViewerID, ids, []groupEvent{{msg: msg, kind: models.ChangeMemberJoined}})
		if err != nil {
			return err
		}
		// Each member joined: their own MEMBER_JOINED names them.
		for i := range changes {
			changes[i].OtherUserID = changes[i].UserID
		}
		if err := record(tx, changes...); err != nil {
			return err
		}
		view, err = viewOf(tx, conv.ID, p.ViewerID)
		return err
	})
	if err != nil {
		return nil, translate(err, "user")
	}
	return view, nil
}

// groupEvent is a system message to store and the change that announces it
// to every member.
type groupEvent struct {
	msg  *models.Message
	kind models.ChangeKind
}

// systemMessages stores events' messages in order (one statement), moves
// the members of audience (locked by the caller) and the conversation on to
// the last, and returns one change per member and event. The actor has read
// up to them.
func systemMessages(tx *gorm.DB, conv *models.Conversation, actor int64, audience []int64, events []groupEvent) ([]models.Change, error) {
	msgs := make([]*models.Message, len(events))
	for i, e := range events {
		msgs[i] = e.msg
	}
	if err := tx.Create(msgs).Error; err != nil {
		return nil, err
	}
	var changes []models.Change
	for _, e := range events {
		for _, u := range audience {
			changes = append(changes, models.Change{UserID: u, Kind: e.kind, ConversationID: conv.ID,
				MessageID: e.msg.ID, OtherUserID: e.msg.SubjectID})
		}
	}
	last := events[len(events)-1].msg
	if err := moveOn(tx, conv, audience, last); err != nil {
		return nil, err
	}
	return changes, tx.Model(&models.Member{}).Where("conversation_id = ? AND user_id = ?", conv.ID, actor).
		Updates(map[string]any{"last_read_message_id": last.ID, "read_at": last.CreatedAt}).Error
}

// announce stores events' system messages and records their changes for
// audience, whose users the caller holds locked.
func announce(tx *gorm.DB, conv *models.Conversation, actor int64, audience []int64, events ...groupEvent) error {
	changes, err := systemMessages(tx, conv, actor, audience, events)
	if err != nil {
		return err
	}
	return record(tx, changes...)
}

// moveOn makes msg the newest message of conv and of its members in users.
func moveOn(tx *gorm.DB, conv *models.Conversation, users []int64, msg *models.Message) error {
	conv.LastMessageID, conv.LastMessageAt = msg.ID, &msg.CreatedAt
	if err := tx.Model(&models.Conversation{}).Where("id = ?", conv.ID).
		Updates(map[string]any{"last_message_id": msg.ID, "last_message_at": msg.CreatedAt, "updated_at": msg.CreatedAt}).Error; err != nil {
		return err
	}
	return tx.Model(&models.Member{}).Where("conversation_id = ? AND user_id IN ?", conv.ID, users).
		Update("last_message_id", msg.ID).Error
}

// viewOf reads the conversation as userID sees it, inside tx.
func viewOf(tx *gorm.DB, convID, userID int64) (*models.ConversationView, error) {
	v := &models.ConversationView{Member: &models.Member{}}
	if err := tx.Where("id = ?", convID).Take(&v.Conversation).Error; err != nil {
		return nil, err
	}
	if err := tx.Where("conversation_id = ? AND user_id = ?", convID, userID).Take(v.Member).Error; err != nil {
		return nil, err
	}
	if v.Member.Status == models.StatusLeft {
		v.Title = v.Member.LeftTitle // as viewSelect reads it
	}
	return v, nil
}

// AddMembers adds p.UserIDs to a group, or, when the creator's approval is
// needed, invites them. All or none.
func (s *Store) AddMembers(ctx context.Context, p models.GroupParams) (*models.AddResult, error) {
	res := &models.AddResult{}
	err := s.tx(ctx, func(tx *gorm.DB) error {
		*res = models.AddResult{}
		t := s.now()
		g, err := lockGroup(tx, p.ConversationID, p.ViewerID, true)
		if err != nil {
			return err
		}
		var targets []int64
		for _, id := range p.UserIDs {
			if m := g.member(id); m == nil || m.Status != models.StatusActive {
				targets = append(targets, id)
			}
		}
		users := append(g.activeIDs(), targets...)
		if err := lockUsers(tx, users...); err != nil {
			return err
		}
		facts, err := addFacts(tx, p.ViewerID, targets)
		if err != nil {
			return err
		}
		if err := decideAdds(facts, t); err != nil {
			return err
		}
		creator, err := groupCreator(tx, g)
		if err != nil {
			return err
		}
		if len(targets) > 0 && creator.NeedsApproval(p.ViewerID, t) {
			res.Invitations, err = invite(tx, g, p.ViewerID, targets, t)
			if err != nil {
				return err
			}
		} else if len(targets) > 0 {
			if len(g.active())+len(targets) > p.Max {
				return models.GroupFull(p.Max)
			}
			if err := join(tx, g, p.ViewerID, targets, t); err != nil {
				return err
			}
			res.Added = targets
		}
		res.View, err = viewOf(tx, g.conv.ID, p.ViewerID)
		return err
	})
	if err != nil {
		return nil, translate(err, "conversation")
	}
	return res, nil
}

// groupCreator reads whether the group's creator is still a member, and
// their birth date.
func groupCreator(tx *gorm.DB, g *group) (*models.GroupCreator, error) {
	f := &models.GroupCreator{ID: g.conv.CreatorID}
	if m := g.member(g.conv.CreatorID); m == nil || m.Status != models.StatusActive {
		return f, nil
	}
	var u models.User
	if err := tx.Select("id", "birth_date").Where("id = ?", g.conv.CreatorID).Take(&u).Error; err != nil {
		return nil, err
	}
	f.IsMember, f.BirthDate = true, u.BirthDate
	return f, nil
}

// invite opens a pending invitation for each target that has none, and
// tells the creator and the inviter.
func invite(tx *gorm.DB, g *group, inviter int64, targets []int64, t time.Time) ([]*models.GroupInvitation, error) {
	var pending []models.GroupInvitation
	if err := tx.Where("conversation_id = ? AND status = ? AND invitee_id IN ?", g.conv.ID,
		models.InvitationPending, targets).Find(&pending).Error; err != nil {
		return nil, err
	}
	var out []*models.GroupInvitation
	var changes []models.Change
	for _, id := range targets {
		i := slices.IndexFunc(pending, func(p models.GroupInvitation) bool { return p.InviteeID == id })
		if i >= 0 {
			out = append(out, &pending[i])
			continue
		}
		inv := &models.GroupInvitation{ConversationID: g.conv.ID, InviteeID: id, InviterID: inviter,
			Status: models.InvitationPending, CreatedAt: t}
		if err := tx.Create(inv).Error; err != nil {
			return nil, err
		}
		out = append(out, inv)
		for _, u := range []int64{g.conv.CreatorID, inviter} {
			changes = append(changes, models.Change{UserID: u, Kind: models.ChangeInvitationReceived,
				ConversationID: g.conv.ID, InvitationID: inv.ID, OtherUserID: id})
		}
	}
	return out, record(tx, changes...)
}

// join makes targets (locked) active members, and records it: a
// MEMBER_ADDED message by actor for each, told to every member, the new
// ones included. A new member sees the group from those messages on.
func join(tx *gorm.DB, g *group, actor int64, targets []int64, t time.Time) error {
	members := make([]models.Member, len(targets))
	events := make([]groupEvent, len(targets))
	for i, id := range targets {
		members[i] = models.Member{ConversationID: g.conv.ID, UserID: id, Status: models.StatusActive, Role: models.RoleMember,
			ClearedThroughID: g.conv.LastMessageID, CreatedAt: t}
		events[i] = groupEvent{msg: models.SystemMessage(g.conv.ID, actor, models.EventMemberAdded, id, nil, t),
			kind: models.ChangeMemberJoined}
	}
	// A former member comes back as a new one (one statement for all).
	err := tx.Clauses(clause.OnConflict{
		Columns: []clause.Column{{Name: "conversation_id"}, {Name: "user_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"status", "role", "cleared_through_id", "created_at",
			"last_read_message_id", "read_at", "uninvited"}),
	}).Create(&members).Error
	if err != nil {
		return err
	}
	return announce(tx, &g.conv, actor, append(g.activeIDs(), targets...), events...)
}

// RemoveMember removes p.UserIDs[0] from a group, as p.ViewerID.
func (s *Store) RemoveMember(ctx context.Context, p models.GroupParams) (*models.ConversationView, error) {
	target := p.UserIDs[0]
	return s.groupWrite(ctx, p, func(tx *gorm.DB, g *group, t time.Time) error {
		me, them := g.member(p.ViewerID), g.member(target)
		if target == p.ViewerID {
			return models.Refusal(models.CodeBadUserInput, models.ReasonSelf, "to remove yourself, leave the group")
		}
		if them == nil || them.Status != models.StatusActive {
			return models.NotFound("member")
		}
		if err := models.MayRemove(me.Role, them.Role); err != nil {
			return err
		}
		msg := models.SystemMessage(g.conv.ID, p.ViewerID, models.EventMemberRemoved, target, nil, t)
		return leave(tx, g, target, []groupEvent{{msg: msg, kind: models.ChangeMemberLeft}}, p.ViewerID, t)
	})
}

// Leave takes p.ViewerID out of a group. An owner's ownership passes to
// the longest-standing admin, else the longest-standing member.
func (s *Store) Leave(ctx context.Context, p models.GroupParams) (*models.ConversationView, error) {
	return s.groupWrite(ctx, p, func(tx *gorm.DB, g *group, t time.Time) error {
		events := []groupEvent{{msg: models.SystemMessage(g.conv.ID, p.ViewerID, models.EventMemberLeft, p.ViewerID, nil, t),
			kind: models.ChangeMemberLeft}}
		return leave(tx, g, p.ViewerID, events, p.ViewerID, t)
	})
}

// leave records that user leaves g (the events say how) and, when they
// owned it, passes ownership on. Everyone active hears it, the leaver
// included; the leaver's view stops at the last of events.
func leave(tx *gorm.DB, g *group, user int64, events []groupEvent, actor int64, t time.Time) error {
	audience := g.activeIDs()
	if err := lockUsers(tx, audience...); err != nil {
		return err
	}
	if err := announce(tx, &g.conv, actor, audience, events...); err != nil {
		return err
	}
	leaver := g.member(user)
	if err := tx.Model(&models.Member{}).Where("conversation_id = ? AND user_id = ?", g.conv.ID, user).
		Updates(map[string]any{"status": models.StatusLeft, "role": "", "left_title": g.conv.Title}).Error; err != nil {
		return err
	}
	if leaver.Role != models.RoleOwner {
		return nil
	}
	rest := slices.DeleteFunc(g.active(), func(m models.Member) bool { return m.UserID == user })
	i := models.NextOwner(rest)
	if i < 0 {
		return nil // the last member left
	}
	heir := rest[i].UserID
	if err := tx.Model(&models.Member{}).Where("conversation_id = ? AND user_id = ?", g.conv.ID, heir).
		Update("role", models.RoleOwner).Error; err != nil {
		return err
	}
	owner := string(models.RoleOwner)
	msg := models.SystemMessage(g.conv.ID, user, models.EventRoleChanged, heir, &owner, t)
	return announce(tx, &g.conv, heir, slices.DeleteFunc(audience, func(id int64) bool { return id == user }),
		groupEvent{msg: msg, kind: models.ChangeMemberRoleChanged})
}

// Rename sets a group's title, as an owner or admin.
func (s *Store) Rename(ctx context.Context, p models.GroupParams) (*models.ConversationView, error) {
	return s.groupWrite(ctx, p, func(tx *gorm.DB, g *group, t time.Time) error {
		if !g.member(p.ViewerID).Role.Manages() {
			return models.ErrNotAdmin
		}
		if equalTitle(g.conv.Title, p.Title) {
			return nil
		}
		if err := tx.Model(&models.Conversation{}).Where("id = ?", g.conv.ID).Update("title", p.Title).Error; err != nil {
			return err
		}
		audience := g.activeIDs()
		if err := lockUsers(tx, audience...); err != nil {
			return err
		}
		msg := models.SystemMessage(g.conv.ID, p.ViewerID, models.EventGroupRenamed, 0, p.Title, t)
		return announce(tx, &g.conv, p.ViewerID, audience, groupEvent{msg: msg, kind: models.ChangeGroupRenamed})
	})
}

func equalTitle(a, b *string) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

// SetRole makes p.UserIDs[0] an admin or a plain member, as the owner.
func (s *Store) SetRole(ctx context.Context, p models.GroupParams, role models.GroupRole) (*models.ConversationView, error) {
	target := p.UserIDs[0]
	return s.groupWrite(ctx, p, func(tx *gorm.DB, g *group, t time.Time) error {
		if g.member(p.ViewerID).Role != models.RoleOwner {
			return models.ErrNotOwnerRoles
		}
		if role == models.RoleOwner {
			return models.InvalidField("role", "ownership can't be given: it passes on when the owner leaves")
		}
		them := g.member(target)
		if them == nil || them.Status != models.StatusActive {
			return models.NotFound("member")
		}
		if target == p.ViewerID {
			return models.Refusal(models.CodeBadUserInput, models.ReasonSelf, "the owner's role can't be changed")
		}
		if them.Role == role {
			return nil
		}
		if err := tx.Model(&models.Member{}).Where("conversation_id = ? AND user_id = ?", g.conv.ID, target).
			Update("role", role).Error; err != nil {
			return err
		}
		audience := g.activeIDs()
		if err := lockUsers(tx, audience...); err != nil {
			return err
		}
		r := string(role)
		msg := models.SystemMessage(g.conv.ID, p.ViewerID, models.EventRoleChanged, target, &r, t)
		return announce(tx, &g.conv, p.ViewerID, audience, groupEvent{msg: msg, kind: models.ChangeMemberRoleChanged})
	})
}

// groupWrite runs fn on a group p.ViewerID is an active member of, under
// its lock, and returns the group as the viewer then sees it.
func (s *Store) groupWrite(ctx context.Context, p models.GroupParams, fn func(tx *gorm.DB, g *group, t time.Time) error) (*models.ConversationView, error) {
	var view *models.ConversationView
	err := s.tx(ctx, func(tx *gorm.DB) error {
		g, err := lockGroup(tx, p.ConversationID, p.ViewerID, true)
		if err != nil {
			return err
		}
		if err := fn(tx, g, s.now()); err != nil {
			return err
		}
		view, err = viewOf(tx, g.conv.ID, p.ViewerID)
		return err
	})
	if err != nil {
		return nil, translate(err, "conversation")
	}
	return view, nil
}

// RespondToInvitation accepts or declines a pending invitation, as the
// group's creator. Accepting checks the rules again, as of now, for the
// member who asked.
func (s *Store) RespondToInvitation(ctx context.Context, viewerID, invitationID int64, accept bool, max int) (*models.GroupInvitation, *models.ConversationView, error) {
	var inv models.GroupInvitation
	var view *models.ConversationView
	err := s.tx(ctx, func(tx *gorm.DB) error {
		t := s.now()
		if err := tx.Where("id = ? AND status = ?", invitationID, models.InvitationPending).Take(&inv).Error; err != nil {
			return err
		}
		g, err := lockGroup(tx, inv.ConversationID, viewerID, false)
		if err != nil {
			return err
		}
		// To anyone but the creator, still a member, the invitation does
		// not exist: a former member learns nothing of additions asked for
		// after they went.
		if g.conv.CreatorID != viewerID || g.member(viewerID).Status != models.StatusActive {
			return gorm.ErrRecordNotFound
		}
		// Read again under the lock.
		if err := tx.Where("id = ? AND status = ?", invitationID, models.InvitationPending).Take(&inv).Error; err != nil {
			return err
		}
		users := append(g.activeIDs(), inv.InviteeID, inv.InviterID)
		if err := lockUsers(tx, users...); err != nil {
			return err
		}
		status := models.InvitationDeclined
		if accept {
			status = models.InvitationAccepted
			if m := g.member(inv.InviteeID); m == nil || m.Status != models.StatusActive {
				facts, err := addFacts(tx, inv.InviterID, []int64{inv.InviteeID})
				if err != nil {
					return err
				}
				if err := decideAdds(facts, t); err != nil {
					return err
				}
				if len(g.active())+1 > max {
					return models.GroupFull(max)
				}
				if err := join(tx, g, viewerID, []int64{inv.InviteeID}, t); err != nil {
					return err
				}
			}
		}
		if err := tx.Model(&models.GroupInvitation{}).Where("id = ?", inv.ID).
			Updates(map[string]any{"status": status, "resolved_at": t}).Error; err != nil {
			return err
		}
		resolved := func(u int64) models.Change {
			return models.Change{UserID: u, Kind: models.ChangeInvitationResolved,
				ConversationID: inv.ConversationID, InvitationID: inv.ID, OtherUserID: inv.InviteeID}
		}
		changes := []models.Change{resolved(viewerID)}
		if inv.InviterID != viewerID {
			changes = append(changes, resolved(inv.InviterID))
		}
		if err := record(tx, changes...); err != nil {
			return err
		}
		view, err = viewOf(tx, g.conv.ID, viewerID)
		return err
	})
	if err != nil {
		return nil, nil, translate(err, "invitation")
	}
	return &inv, view, nil
}

// Invitations returns the pending invitations of each conversation,
// oldest first, whose creator is viewerID.
func (s *Store) Invitations(ctx context.Context, viewerID int64, convIDs []int64) (map[int64][]*models.GroupInvitation, error) {
	var invs []*models.GroupInvitation
	err := s.db.WithContext(ctx).Table("group_invitations i").Select("i.*").
		Joins("JOIN conversations c ON c.id = i.conversation_id AND c.creator_id = ?", viewerID).
		Joins("JOIN conversation_members m ON m.conversation_id = c.id AND m.user_id = c.creator_id AND m.status = ?", models.StatusActive).
		Where("i.conversation_id IN ? AND i.status = ?", convIDs, models.InvitationPending).
		Order("i.id").Scan(&invs).Error
	if err != nil {
		return nil, translate(err, "invitations")
	}
	out := make(map[int64][]*models.GroupInvitation, len(convIDs))
	for _, inv := range invs {
		out[inv.ConversationID] = append(out[inv.ConversationID], inv)
	}
	return out, nil
}

// Invitation returns a pending invitation that viewerID, the group's
// creator or the member who asked for it, may see.
func (s *Store) Invitation(ctx context.Context, viewerID, id int64) (*models.GroupInvitation, error) {
	var invs []*models.GroupInvitation
	err := s.db.WithContext(ctx).Table("group_invitations i").Select("i.*").
		Joins("JOIN conversations c ON c.id = i.conversation_id").
		Joins("JOIN conversation_members m ON m.conversation_id = c.id AND m.user_id = ? AND m.status = ?", viewerID, models.StatusActive).
		Where("i.id = ? AND i.status = ? AND (c.creator_id = ? OR i.inviter_id = ?)", id, models.InvitationPending, viewerID, viewerID).
		Scan(&invs).Error
	if err != nil {
		return nil, translate(err, "invitation")
	}
	if len(invs) == 0 {
		return nil, models.NotFound("invitation")
	}
	return invs[0], nil
}

// CanAdd answers AddMembers for one user, without adding: nil, or the
// refusal; and whether the addition would wait for approval.
func (s *Store) CanAdd(ctx context.Context, viewerID, convID, userID int64, max int) (approval bool, err error) {
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		g, err := readGroup(tx, convID, viewerID)
		if err != nil {
			return err
		}
		if m := g.member(userID); m != nil && m.Status == models.StatusActive && userID != viewerID {
			return nil // already in: adding them again changes nothing
		}
		facts, err := addFacts(tx, viewerID, []int64{userID})
		if err != nil {
			return err
		}
		if err := decideAdds(facts, s.now()); err != nil {
			return err
		}
		f, err := groupCreator(tx, g)
		if err != nil {
			return err
		}
		if approval = f.NeedsApproval(viewerID, s.now()); !approval && len(g.active())+1 > max {
			return models.GroupFull(max)
		}
		return nil
	}, nil)
	return approval, translate(err, "conversation")
}

// SendGroup stores a message in a group the sender is an active member
// of, in one transaction: the conversation's lock, then every active
// member's (lockUsers), so each member's message IDs and change positions
// are handed out in commit order and SendResult.AudiencePrev is exact. The
// members' rows and changes are written by one statement each, whatever the
// group's size. (A send records no change log: dm announces it as a message.)
func (s *Store) SendGroup(ctx context.Context, p models.GroupSendParams) (*models.SendResult, error) {
	var res *models.SendResult
	err := s.tx(ctx, func(tx *gorm.DB) error {
		t := s.now()
		g, err := lockGroup(tx, p.ConversationID, p.SenderID, true)
		if err != nil {
			return err
		}
		audience := g.activeIDs()
		if err := lockUsers(tx, audience...); err != nil {
			return err
		}
		if p.ClientMessageID != nil {
			var n int64
			if err := tx.Model(&models.Message{}).Where("sender_id = ? AND client_message_id = ?", p.SenderID,
				*p.ClientMessageID).Count(&n).Error; err != nil {
				return err
			}
			if n > 0 {
				return models.ErrDuplicate
			}
		}
		prevs, err := scanAll(tx.Raw(`SELECT user_id, MAX(last_message_id) FROM conversation_members
			WHERE user_id IN ? GROUP BY user_id`, audience), func(rows *sql.Rows) ([2]int64, error) {
			var v [2]int64
			return v, rows.Scan(&v[0], &v[1])
		})
		if err != nil {
			return err
		}
		msg := &models.Message{ConversationID: g.conv.ID, SenderID: p.SenderID, Text: p.Text, VideoID: p.VideoID,
			ClientMessageID: p.ClientMessageID, Delivery: models.DeliveryInbox, CreatedAt: t}
		if err := tx.Create(msg).Error; err != nil {
			return err
		}
		res = &models.SendResult{Message: msg, Delivery: models.DeliveryInbox, Audience: audience,
			AudiencePrev: make([]int64, len(audience)), Prev: &models.SendPrev{Conversation: g.conv.LastMessageID}}
		for i, u := range audience {
			for _, p := range prevs {
				if p[0] == u {
					res.AudiencePrev[i] = p[1]
				}
			}
		}
		if err := tx.Exec(`UPDATE conversations SET last_message_id = ?, last_message_at = ?, updated_at = ? WHERE id = ?`,
			msg.ID, t, t, g.conv.ID).Error; err != nil {
			return err
		}
		// Every member moves on; the sender has read their own message.
		if err := tx.Exec(`UPDATE conversation_members SET last_message_id = @m,
			last_read_message_id = CASE WHEN user_id = @s THEN @m ELSE last_read_message_id END,
			read_at = CASE WHEN user_id = @s THEN @t ELSE read_at END
			WHERE conversation_id = @c AND status = 'ACTIVE'`,
			map[string]any{"m": msg.ID, "s": p.SenderID, "t": t, "c": g.conv.ID}).Error; err != nil {
			return err
		}
		if err := tx.Exec(`INSERT INTO changes (user_id, kind, conversation_id, message_id, request_id, other_user_id, invitation_id, created_at)
			SELECT user_id, ?, conversation_id, ?, 0, 0, 0, ? FROM conversation_members
			WHERE conversation_id = ? AND status = 'ACTIVE' ORDER BY user_id`,
			models.ChangeMessageAdded, msg.ID, t, g.conv.ID).Error; err != nil {
			return err
		}
		me := *g.member(p.SenderID)
		me.LastMessageID, me.LastReadMessageID, me.ReadAt = msg.ID, msg.ID, &t
		conv := g.conv
		conv.LastMessageID, conv.LastMessageAt, conv.UpdatedAt = msg.ID, &t, t
		res.Conversation = &models.ConversationView{Conversation: conv, Member: &me}
		return nil
	})
	if err != nil {
		return nil, translate(err, "conversation")
	}
	return res, nil
}
