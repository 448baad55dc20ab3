package models

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Groups: who may create one, who may add whom, who may remove, rename and
// set roles, decided here from facts the store reads under its locks.

// DefaultGroupMaxMembers is a group's size limit, creator included, when
// GROUP_MAX_MEMBERS is not set.
const DefaultGroupMaxMembers = 32

// MaxGroupTitleRunes bounds a group's title.
const MaxGroupTitleRunes = 100

// ConversationKind says whether a conversation is 1:1 or a group.
type ConversationKind string

const (
	KindDirect ConversationKind = "DIRECT"
	KindGroup  ConversationKind = "GROUP"
)

var conversationKinds = []ConversationKind{KindDirect, KindGroup}

func (k ConversationKind) MarshalGQL(w io.Writer)    { writeQuoted(w, string(k)) }
func (k *ConversationKind) UnmarshalGQL(v any) error { return unmarshalEnum(v, k, conversationKinds) }

// GroupRole is a member's role in a group; "" in a 1:1 conversation.
type GroupRole string

const (
	RoleOwner  GroupRole = "OWNER"
	RoleAdmin  GroupRole = "ADMIN"
	RoleMember GroupRole = "MEMBER"
)

var groupRoles = []GroupRole{RoleOwner, RoleAdmin, RoleMember}

func (r GroupRole) MarshalGQL(w io.Writer)    { writeQuoted(w, string(r)) }
func (r *GroupRole) UnmarshalGQL(v any) error { return unmarshalEnum(v, r, groupRoles) }

// Manages reports whether the role may remove members and rename.
func (r GroupRole) Manages() bool { return r == RoleOwner || r == RoleAdmin }

// SystemEventKind is what a system message records.
type SystemEventKind string

const (
	EventGroupCreated  SystemEventKind = "GROUP_CREATED"
	EventMemberAdded   SystemEventKind = "MEMBER_ADDED"
	EventMemberLeft    SystemEventKind = "MEMBER_LEFT"
	EventMemberRemoved SystemEventKind = "MEMBER_REMOVED"
	EventGroupRenamed  SystemEventKind = "GROUP_RENAMED"
	EventRoleChanged   SystemEventKind = "ROLE_CHANGED"
)

var systemEventKinds = []SystemEventKind{EventGroupCreated, EventMemberAdded, EventMemberLeft,
	EventMemberRemoved, EventGroupRenamed, EventRoleChanged}

func (k SystemEventKind) MarshalGQL(w io.Writer)    { writeQuoted(w, string(k)) }
func (k *SystemEventKind) UnmarshalGQL(v any) error { return unmarshalEnum(v, k, systemEventKinds) }

// SystemEvent is what a system message records: Message.System and its
// SubjectID and Text, as the schema shows them.
type SystemEvent struct {
	Kind SystemEventKind
	// MemberID is the member it concerns (MEMBER_ADDED, MEMBER_REMOVED,
	// ROLE_CHANGED), else 0.
	MemberID int64
	Title    *string
	Role     *GroupRole
}

// SystemEvent is the message's system event, or nil for a message someone
// wrote.
func (m *Message) SystemEvent() *SystemEvent {
	if m.System == nil {
		return nil
	}
	e := &SystemEvent{Kind: SystemEventKind(*m.System), MemberID: m.SubjectID}
	switch e.Kind {
	case EventGroupRenamed:
		e.Title = m.Text
	case EventRoleChanged:
		if m.Text != nil {
			r := GroupRole(*m.Text)
			e.Role = &r
		}
	}
	return e
}

// EndsMembershipOf reports whether the message records that userID left
// its group or was removed: the last message of the group they get.
func (m *Message) EndsMembershipOf(userID int64) bool {
	return m.System != nil && m.SubjectID == userID &&
		(SystemEventKind(*m.System) == EventMemberLeft || SystemEventKind(*m.System) == EventMemberRemoved)
}

// SystemMessage builds the system message of an event by actor.
func SystemMessage(convID, actor int64, kind SystemEventKind, subject int64, arg *string, t time.Time) *Message {
	k := string(kind)
	return &Message{ConversationID: convID, SenderID: actor, System: &k, SubjectID: subject, Text: arg,
		Delivery: DeliveryInbox, CreatedAt: t}
}

// InvitationStatus is the lifecycle of a group invitation.
type InvitationStatus string

const (
	InvitationPending  InvitationStatus = "PENDING"
	InvitationAccepted InvitationStatus = "ACCEPTED"
	InvitationDeclined InvitationStatus = "DECLINED"
)

// GroupInvitation is an addition to a group created by a 16–17-year-old,
// waiting for the creator's approval. At most one waits per group and
// invitee.
type GroupInvitation struct {
	ID             int64            `gorm:"primaryKey"`
	ConversationID int64            `gorm:"not null;uniqueIndex:idx_invitations_pending,where:status = 'PENDING'"`
	InviteeID      int64            `gorm:"not null;uniqueIndex:idx_invitations_pending,where:status = 'PENDING'"`
	InviterID      int64            `gorm:"not null"`
	Status         InvitationStatus `gorm:"size:16;not null"`
	CreatedAt      time.Time        `gorm:"not null"`
	ResolvedAt     *time.Time
}

func (*GroupInvitation) IsNode() {}

// CleanGroupTitle trims a title; nil or blank is no title. It follows a
// display name's rules: valid UTF-8, no control or bidi characters.
func CleanGroupTitle(title *string) (*string, error) {
	if title == nil || strings.TrimSpace(*title) == "" {
		return nil, nil
	}
	t, err := cleanText(*title, "title", "a group title", 1, MaxGroupTitleRunes)
	if err != nil {
		return nil, err
	}
	if strings.ContainsFunc(t, controlOrBidi) {
		return nil, InvalidField("title", "a group title can't contain control or text-direction characters")
	}
	return &t, nil
}

// AddFacts is what the store reads about one would-be addition of Target
// to a group by Adder.
type AddFacts struct {
	AdderID, TargetID int64
	AdderBirthDate    time.Time
	TargetBirthDate   time.Time
	TargetPolicy      DirectMessagePolicy
	// Blocked: a block stands between adder and target, either way.
	Blocked bool
	// Friends: adder and target follow each other.
	Friends bool
	// TargetExists is false for an unknown user.
	TargetExists bool
}

// GroupCreator is what the approval rule needs of a group's creator.
type GroupCreator struct {
	ID int64
	// IsMember: the creator is still an active member; BirthDate is set
	// only then.
	IsMember  bool
	BirthDate time.Time
}

// NeedsApproval reports whether an addition by adder waits for the
// creator: the creator, still a member, is 16 or 17, and is not the adder.
func (c *GroupCreator) NeedsApproval(adder int64, now time.Time) bool {
	return c.IsMember && adder != c.ID && AgeBandOf(c.BirthDate, now) == Teen16
}

// ErrNotGroupMember refuses a former member what only members may do.
var ErrNotGroupMember = Refusal(CodeForbidden, ReasonNotMember, "you are no longer a member of this group")

// errGroupAge refuses a 13–15-year-old any group.
var errGroupAge = Refusal(CodeForbidden, ReasonAgeRestricted, "group chats are off for accounts under 16")

// CheckGroupCreator refuses a creator who may not create groups: under 16,
// or not accepting direct messages at all.
func CheckGroupCreator(birth time.Time, policy DirectMessagePolicy, now time.Time) error {
	band := AgeBandOf(birth, now)
	if band == Teen13 {
		return errGroupAge
	}
	if EffectivePolicy(band, policy) == PolicyNoOne {
		return Refusal(CodeForbidden, ReasonSenderAllowsNoOne,
			"you don't accept direct messages, so you can't start groups; change your privacy settings first")
	}
	return nil
}

// DecideAdd says whether f.AdderID may add f.TargetID, in the order the
// rules are checked: the adder's own age, self, blocks, the target's setting
// (a 13–15-year-old target is refused exactly as NO_ONE is: the same reason
// and words, so their age stays invisible), then friendship. The group's
// room is checked by the caller, once per call.
func DecideAdd(f AddFacts, now time.Time) error {
	if AgeBandOf(f.AdderBirthDate, now) == Teen13 {
		return errGroupAge
	}
	if !f.TargetExists {
		return NotFound("user")
	}
	if f.AdderID == f.TargetID {
		return Refusal(CodeBadUserInput, ReasonSelf, "you are already in the group")
	}
	if f.Blocked {
		return Refusal(CodeForbidden, ReasonBlocked, "you can't add this account")
	}
	if EffectivePolicy(AgeBandOf(f.TargetBirthDate, now), f.TargetPolicy) == PolicyNoOne {
		return Refusal(CodeForbidden, ReasonRecipientSetting, "this account can't be added to groups")
	}
	if !f.Friends {
		return Refusal(CodeForbidden, ReasonNotFriends, "you can only add friends (people you follow who follow you back)")
	}
	return nil
}

// GroupFull refuses an addition past max members.
func GroupFull(max int) error {
	return Refusal(CodeForbidden, ReasonGroupFull, fmt.Sprintf("a group has at most %d members", max))
}

// ErrNotAdmin refuses a member what only the owner and admins may do.
var ErrNotAdmin = Refusal(CodeForbidden, ReasonNotAdmin, "only the group's owner and admins can do this")

// ErrNotOwnerRoles refuses role changes to anyone but the owner.
var ErrNotOwnerRoles = Refusal(CodeForbidden, ReasonNotAdmin, "only the group's owner can set roles")

// MayRemove says whether a member with role actor may remove one with role
// target: the owner anyone, an admin plain members.
func MayRemove(actor, target GroupRole) error {
	switch {
	case actor == RoleOwner && target != RoleOwner:
		return nil
	case actor == RoleAdmin && target == RoleMember:
		return nil
	case actor.Manages():
		return Refusal(CodeForbidden, ReasonNotAdmin, "admins can remove members, not the owner or other admins")
	default:
		return ErrNotAdmin
	}
}

// NextOwner picks who owns a group when its owner leaves: the
// longest-standing admin, else the longest-standing member. members are in
// join order, the leaver excluded; -1 when none is left.
func NextOwner(members []Member) int {
	for i, m := range members {
		if GroupRole(m.Role) == RoleAdmin {
			return i
		}
	}
	if len(members) > 0 {
		return 0
	}
	return -1
}

// GroupParams is a validated group operation's input.
type GroupParams struct {
	ViewerID       int64
	ConversationID int64
	Title          *string
	UserIDs        []int64
	// Max is the group's size limit, the creator included.
	Max int
}

// AddResult is what addGroupMembers did.
type AddResult struct {
	View        *ConversationView
	Added       []int64
	Invitations []*GroupInvitation
}

// GroupSendParams is a validated message to a group.
type GroupSendParams struct {
	SenderID        int64
	ConversationID  int64
	Text            *string
	VideoID         *int64
	ClientMessageID *string
}
