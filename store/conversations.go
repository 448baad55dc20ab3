package store

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"dmgraph/models"
	"dmgraph/relay"
)

// viewSelect reads a conversation and one member row (scanView).
const viewSelect = `c.id, c.direct_key, c.kind, CASE WHEN m.status = 'LEFT' THEN m.left_title ELSE c.title END AS title, c.creator_id, c.last_message_id, c.last_message_at, c.created_at, c.updated_at,
	m.conversation_id AS m_conversation_id, m.user_id AS m_user_id, m.status AS m_status,
	m.last_message_id AS m_last_message_id, m.last_read_message_id AS m_last_read_message_id,
	m.read_at AS m_read_at, m.cleared_through_id AS m_cleared_through_id, m.role AS m_role, m.created_at AS m_created_at`

// scanAll runs q and reads each row with scan. The hot reads (inbox pages,
// live deliveries) scan by hand: GORM's reflection cost more than their
// queries.
func scanAll[T any](q *gorm.DB, scan func(*sql.Rows) (T, error)) ([]T, error) {
	rows, err := q.Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, markUnavailable(err)
		}
		out = append(out, v)
	}
	return out, markUnavailable(rows.Err())
}

// scanView reads one row of viewSelect.
func scanView(rows *sql.Rows) (*models.ConversationView, error) {
	v := &models.ConversationView{Member: &models.Member{}}
	c, m := &v.Conversation, v.Member
	err := rows.Scan(&c.ID, &c.DirectKey, &c.Kind, &c.Title, &c.CreatorID, &c.LastMessageID, &c.LastMessageAt, &c.CreatedAt, &c.UpdatedAt,
		&m.ConversationID, &m.UserID, &m.Status, &m.LastMessageID, &m.LastReadMessageID,
		&m.ReadAt, &m.ClearedThroughID, &m.Role, &m.CreatedAt)
	return v, err
}

// scanViews runs q and reads its viewSelect rows.
func scanViews(q *gorm.DB) ([]*models.ConversationView, error) { return scanAll(q, scanView) }

// visibleViews selects the conversations userID can see.
func (s *Store) visibleViews(ctx context.Context, userID int64) *gorm.DB {
	return s.db.WithContext(ctx).Table("conversation_members m").Select(viewSelect).
		Joins("JOIN conversations c ON c.id = m.conversation_id").
		Where("m.user_id = ? AND m.status <> ?", userID, models.StatusDeleted)
}

// View returns conversation id as viewerID sees it; NOT_FOUND unless the
// viewer is a member who can see it.
func (s *Store) View(ctx context.Context, viewerID, id int64) (*models.ConversationView, error) {
	views, err := scanViews(s.visibleViews(ctx, viewerID).Where("c.id = ?", id))
	if err != nil {
		return nil, translate(err, "conversation")
	}
	if len(views) == 0 {
		return nil, models.NotFound("conversation")
	}
	return views[0], nil
}

// Views loads many conversations as viewerID sees them, in one statement.
func (s *Store) Views(ctx context.Context, viewerID int64, ids []int64) (map[int64]*models.ConversationView, error) {
	views, err := scanViews(s.visibleViews(ctx, viewerID).Where("c.id IN ?", ids))
	if err != nil {
		return nil, translate(err, "conversations")
	}
	out := make(map[int64]*models.ConversationView, len(views))
	for _, v := range views {
		out[v.ID] = v
	}
	return out, nil
}

// Inbox pages through viewerID's ACTIVE and PENDING conversations, newest
// activity first. A page after a cursor also lists, first, the ones that
// moved above its snapshot (relay.InboxCursor): both parts in one statement.
func (s *Store) Inbox(ctx context.Context, viewerID int64, args relay.Args) (*models.ConversationConnection, error) {
	statuses := []models.ConversationStatus{models.StatusActive, models.StatusPending, models.StatusLeft}
	part := `SELECT * FROM (SELECT ` + viewSelect + ` FROM conversation_members m
		JOIN conversations c ON c.id = m.conversation_id
		WHERE m.user_id = ? AND m.status IN ? AND m.last_message_id %s ?
		ORDER BY m.last_message_id %s LIMIT ?) p`
	q := s.db.WithContext(ctx)
	if args.After == 0 {
		q = q.Raw(fmt.Sprintf(part, ">=", "DESC"), viewerID, statuses, 0, args.Limit+1)
	} else {
		q = q.Raw(fmt.Sprintf(part, ">", "ASC")+" UNION ALL "+fmt.Sprintf(part, "<", "DESC"),
			viewerID, statuses, args.Snapshot, args.Limit+1, viewerID, statuses, args.After, args.Limit+1)
	}
	views, err := scanViews(q)
	if err != nil {
		return nil, translate(err, "conversations")
	}
	key := func(v *models.ConversationView) int64 { return v.Member.LastMessageID }
	var moved, rest []*models.ConversationView
	for _, v := range views {
		if args.After != 0 && key(v) > args.Snapshot {
			moved = append(moved, v)
		} else {
			rest = append(rest, v)
		}
	}
	slices.SortFunc(moved, func(a, b *models.ConversationView) int { return cmp.Compare(key(a), key(b)) })
	slices.SortFunc(rest, func(a, b *models.ConversationView) int { return cmp.Compare(key(b), key(a)) })
	c := relay.InboxPage(args, moved, rest, key)
	c.Count = func(ctx context.Context) (int, error) {
		var n int64
		err := s.db.WithContext(ctx).Model(&models.Member{}).
			Where("user_id = ? AND status IN ?", viewerID, statuses).Count(&n).Error
		return int(n), translate(err, "conversations")
	}
	return c, nil
}

// MessageForViewer returns a message if viewerID can see it.
func (s *Store) MessageForViewer(ctx context.Context, viewerID, id int64) (*models.Message, error) {
	var msgs []*models.Message
	err := s.db.WithContext(ctx).Table("messages msg").Select("msg.*").
		Joins("JOIN conversation_members m ON m.conversation_id = msg.conversation_id").
		Where("msg.id = ? AND m.user_id = ? AND m.status <> ? AND "+visibleSQL,
			id, viewerID, models.StatusDeleted).
		Scan(&msgs).Error
	if err != nil {
		return nil, translate(err, "message")
	}
	if len(msgs) == 0 {
		return nil, models.NotFound("message")
	}
	return msgs[0], nil
}

// messageColumns are the columns scanMessages reads, from messages aliased msg.
const messageColumns = `msg.id, msg.conversation_id, msg.sender_id, msg.text, msg.video_id,
	msg.client_message_id, msg.delivery, msg.system, msg.subject_id, msg.created_at`

// scanMessages runs q, which selects messageColumns, and reads its rows.
func scanMessages(q *gorm.DB) ([]*models.Message, error) {
	return scanAll(q, func(rows *sql.Rows) (*models.Message, error) {
		m := &models.Message{}
		var at *time.Time
		err := rows.Scan(&m.ID, &m.ConversationID, &m.SenderID, &m.Text, &m.VideoID,
			&m.ClientMessageID, &m.Delivery, &m.System, &m.SubjectID, &at)
		if at != nil {
			m.CreatedAt = *at
		}
		return m, err
	})
}

// MessagesByIDs loads messages in one statement. It checks no access: call
// it only for IDs reached through a conversation the viewer can see.
func (s *Store) MessagesByIDs(ctx context.Context, ids []int64) (map[int64]*models.Message, error) {
	msgs, err := scanMessages(s.db.WithContext(ctx).Raw(`SELECT `+messageColumns+` FROM messages msg
		WHERE msg.id IN ?`, ids))
	if err != nil {
		return nil, translate(err, "messages")
	}
	out := make(map[int64]*models.Message, len(msgs))
	for _, m := range msgs {
		out[m.ID] = m
	}
	return out, nil
}

// MessageByClientID finds the message senderID sent with an idempotency key.
func (s *Store) MessageByClientID(ctx context.Context, senderID int64, clientID string) (*models.Message, error) {
	var m models.Message
	err := s.db.WithContext(ctx).Where("sender_id = ? AND client_message_id = ?", senderID, clientID).Take(&m).Error
	return &m, translate(err, "message")
}

// membersSQL reads members with their users (not their password hashes).
// blocked says that a block stands, either way, between the member and
// another member.
const membersSQL = `SELECT m.conversation_id, m.user_id, m.status, m.role, m.last_message_id, m.last_read_message_id,
	m.read_at, m.cleared_through_id, m.created_at, m.blocked,
	u.id, u.username, u.display_name, u.birth_date, u.dm_policy, u.follower_count, u.following_count,
	u.phone_hash, u.created_at
FROM (SELECT m.*, c.kind = 'DIRECT' AND EXISTS (SELECT 1 FROM conversation_members o JOIN blocks b
		ON (b.blocker_id = m.user_id AND b.blocked_id = o.user_id) OR (b.blocker_id = o.user_id AND b.blocked_id = m.user_id)
	WHERE o.conversation_id = m.conversation_id AND o.user_id <> m.user_id) AS blocked
	FROM conversation_members m JOIN conversations c ON c.id = m.conversation_id WHERE m.conversation_id IN ?) m
JOIN users u ON u.id = m.user_id
ORDER BY m.conversation_id, m.created_at, m.user_id`

// MembersByConversations loads every member of each conversation, with its
// user, in one statement. While a block stands between two members, either
// way, their read positions are left out (0 and no time). Every inbox page runs it, so its rows are scanned
// by hand: GORM's reflection cost more than the query.
func (s *Store) MembersByConversations(ctx context.Context, ids []int64) (map[int64][]*models.Member, error) {
	members, err := scanAll(s.db.WithContext(ctx).Raw(membersSQL, ids), func(rows *sql.Rows) (*models.Member, error) {
		m := &models.Member{User: &models.User{}}
		u := m.User
		var blocked bool
		err := rows.Scan(&m.ConversationID, &m.UserID, &m.Status, &m.Role, &m.LastMessageID, &m.LastReadMessageID,
			&m.ReadAt, &m.ClearedThroughID, &m.CreatedAt, &blocked,
			&u.ID, &u.Username, &u.DisplayName, &u.BirthDate, &u.DMPolicy, &u.FollowerCount, &u.FollowingCount,
			&u.PhoneHash, &u.CreatedAt)
		if blocked {
			// Read receipts never cross a block, either way.
			m.LastReadMessageID, m.ReadAt = 0, nil
		}
		return m, err
	})
	if err != nil {
		return nil, translate(err, "members")
	}
	out := make(map[int64][]*models.Member, len(ids))
	for _, m := range members {
		out[m.ConversationID] = append(out[m.ConversationID], m)
	}
	return out, nil
}

// UnreadCounts counts, per conversation, the messages from others after
// viewerID's read position. One statement.
func (s *Store) UnreadCounts(ctx context.Context, viewerID int64, ids []int64) (map[int64]int, error) {
	var rows []struct {
		ConversationID int64
		N              int
	}
	err := s.db.WithContext(ctx).Raw(`
		SELECT m.conversation_id, COUNT(msg.id) AS n
		FROM conversation_members m
		JOIN messages msg ON msg.conversation_id = m.conversation_id
			AND msg.id > m.last_read_message_id AND `+visibleSQL+`
			AND msg.sender_id <> m.user_id AND msg.system IS NULL
		WHERE m.user_id = ? AND m.conversation_id IN ?
		GROUP BY m.conversation_id`, viewerID, ids).Scan(&rows).Error
	if err != nil {
		return nil, translate(err, "unread counts")
	}
	out := make(map[int64]int, len(ids))
	for _, id := range ids {
		out[id] = 0
	}
	for _, r := range rows {
		out[r.ConversationID] = r.N
	}
	return out, nil
}

// UnreadConversationCount counts viewerID's inbox conversations (ACTIVE and
// PENDING) with a message UnreadCounts would count.
func (s *Store) UnreadConversationCount(ctx context.Context, viewerID int64) (int, error) {
	var n int64
	err := s.db.WithContext(ctx).Raw(`
		SELECT COUNT(*) FROM conversation_members m
		WHERE m.user_id = ? AND m.status IN ? AND EXISTS (SELECT 1 FROM messages msg
			WHERE msg.conversation_id = m.conversation_id
			AND msg.id > m.last_read_message_id AND `+visibleSQL+`
			AND msg.sender_id <> m.user_id AND msg.system IS NULL)`,
		viewerID, []models.ConversationStatus{models.StatusActive, models.StatusPending}).Scan(&n).Error
	return int(n), translate(err, "unread counts")
}

// MarkRead moves viewerID's read position to the newest message.
// Reading what was read already changes nothing. The reader's devices hear
// of it; so do the other members, through their read receipts, once the
// conversation is accepted and unless a block stands between them.
func (s *Store) MarkRead(ctx context.Context, viewerID, convID int64) error {
	return translate(s.tx(ctx, func(tx *gorm.DB) error {
		var conv models.Conversation
		if err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Where("id = ?", convID).Take(&conv).Error; err != nil {
			return err
		}
		var members []models.Member
		if err := tx.Where("conversation_id = ?", convID).Order("user_id").Find(&members).Error; err != nil {
			return err
		}
		i := slices.IndexFunc(members, func(m models.Member) bool { return m.UserID == viewerID })
		if i < 0 || members[i].Status == models.StatusDeleted {
			return gorm.ErrRecordNotFound
		}
		me := members[i]
		through := conv.LastMessageID
		if me.Status == models.StatusLeft {
			through = me.LastMessageID // a former member's view stopped when they left
		}
		if me.LastReadMessageID >= through {
			return nil
		}
		ids := make([]int64, len(members))
		for j, m := range members {
			ids[j] = m.UserID
		}
		if err := lockUsers(tx, ids...); err != nil {
			return err
		}
		if err := tx.Model(&models.Member{}).Where("conversation_id = ? AND user_id = ?", convID, viewerID).
			Updates(map[string]any{"last_read_message_id": through, "read_at": s.now()}).Error; err != nil {
			return err
		}
		read := func(user int64) models.Change {
			return models.Change{UserID: user, Kind: models.ChangeConversationRead, ConversationID: convID,
				MessageID: through, OtherUserID: viewerID}
		}
		changes := []models.Change{read(viewerID)}
		if me.Status != models.StatusActive {
			return record(tx, changes...)
		}
		// One statement for every member: a group has up to 32.
		var blocked []int64
		if err := tx.Raw(`SELECT CASE WHEN blocker_id = @v THEN blocked_id ELSE blocker_id END FROM blocks
			WHERE (blocker_id = @v AND blocked_id IN @ids) OR (blocked_id = @v AND blocker_id IN @ids)`,
			map[string]any{"v": viewerID, "ids": ids}).Scan(&blocked).Error; err != nil {
			return err
		}
		for _, m := range members {
			if m.UserID != viewerID && m.Status == models.StatusActive && !slices.Contains(blocked, m.UserID) {
				changes = append(changes, read(m.UserID))
			}
		}
		return record(tx, changes...)
	}), "conversation")
}

// DirectConversationID returns the 1:1 conversation of a and b, or 0.
func (s *Store) DirectConversationID(ctx context.Context, a, b int64) (int64, error) {
	var ids []int64
	err := s.db.WithContext(ctx).Model(&models.Conversation{}).
		Where("direct_key = ?", directKey(a, b)).Pluck("id", &ids).Error
	if err != nil || len(ids) == 0 {
		return 0, translate(err, "conversation")
	}
	return ids[0], nil
}

// directKey names the 1:1 conversation of two users: the sorted pair, so
// both directions meet on one unique row.
func directKey(a, b int64) string {
	if a > b {
		a, b = b, a
	}
	return fmt.Sprintf("%d:%d", a, b)
}

// endInvitation ends what blocker had opened toward blocked in their 1:1
// conversation: the blocker's ACTIVE or PENDING status no longer lets the
// blocked user's messages in, after an unblock too, until the blocker
// writes or accepts again.
func endInvitation(tx *gorm.DB, blocker, blocked int64) error {
	return tx.Model(&models.Member{}).
		Where("user_id = ? AND conversation_id IN (SELECT id FROM conversations WHERE direct_key = ?)",
			blocker, directKey(blocker, blocked)).
		Update("uninvited", true).Error
}

// OtherMember returns the member of a 1:1 conversation who is not userID.
func (s *Store) OtherMember(ctx context.Context, convID, userID int64) (int64, error) {
	var ids []int64
	err := s.db.WithContext(ctx).Model(&models.Member{}).
		Where("conversation_id = ? AND user_id <> ?", convID, userID).Pluck("user_id", &ids).Error
	if err != nil {
		return 0, translate(err, "conversation")
	}
	if len(ids) == 0 {
		return 0, models.NotFound("conversation")
	}
	return ids[0], nil
}

// deliverable selects the messages viewerID gets live: those of
// conversations the viewer is ACTIVE or PENDING in, past their cleared mark,
// that reached an inbox, or that the viewer sent. A request's messages go to
// its recipient as requests, never as messages, even once accepted.
func (s *Store) deliverable(ctx context.Context, viewerID int64) *gorm.DB {
	return s.db.WithContext(ctx).Table("messages msg").Select(messageColumns).
		Joins("JOIN conversation_members m ON m.conversation_id = msg.conversation_id AND m.user_id = ?", viewerID).
		Where("m.status IN ? AND "+visibleSQL+" AND (msg.delivery = ? OR msg.sender_id = ?)",
			[]models.ConversationStatus{models.StatusActive, models.StatusPending, models.StatusLeft}, models.DeliveryInbox, viewerID)
}

// MessagesAfter returns up to limit deliverable messages after the ID after,
// oldest first, in one conversation or (convID 0) in all of them.
func (s *Store) MessagesAfter(ctx context.Context, viewerID, convID, after int64, limit int) ([]*models.Message, error) {
	q := s.deliverable(ctx, viewerID).Where("msg.id > ?", after)
	if convID != 0 {
		q = q.Where("msg.conversation_id = ?", convID)
	}
	msgs, err := scanMessages(q.Order("msg.id").Limit(limit))
	return msgs, translate(err, "messages")
}

// LatestDeliverableID is the newest message ID in the conversations viewerID
// can see, in one conversation or (convID 0) in all of them; 0 when there is
// none. Requests count too, so that accepting one later does not replay its
// older messages.
func (s *Store) LatestDeliverableID(ctx context.Context, viewerID, convID int64) (int64, error) {
	q := s.db.WithContext(ctx).Model(&models.Member{}).
		Where("user_id = ? AND status <> ?", viewerID, models.StatusDeleted)
	if convID != 0 {
		q = q.Where("conversation_id = ?", convID)
	}
	var id int64
	err := q.Select("COALESCE(MAX(last_message_id), 0)").Scan(&id).Error
	return id, translate(err, "messages")
}

// MessagePages reads one page of messages for each conversation, as viewerID
// sees them, in one statement: a UNION ALL of per-conversation index range
// scans, each stopping after args.Limit+1 rows.
func (s *Store) MessagePages(ctx context.Context, viewerID int64, convIDs []int64, args relay.Args) (map[int64]*models.MessageConnection, error) {
	if len(convIDs) == 0 {
		return map[int64]*models.MessageConnection{}, nil
	}
	order, bound, key := "ASC", "msg.id > ?", args.After
	if args.Backward {
		order, bound, key = "DESC", "msg.id < ?", args.Before
	}
	part := `SELECT * FROM (SELECT msg.* FROM messages msg
		JOIN conversation_members m ON m.conversation_id = msg.conversation_id AND m.user_id = ?
		WHERE msg.conversation_id = ? AND ` + visibleSQL
	if key != 0 {
		part += " AND " + bound
	}
	part += " ORDER BY msg.id " + order + " LIMIT ?) p"
	parts := make([]string, len(convIDs))
	var params []any
	for i, id := range convIDs {
		parts[i] = part
		params = append(params, viewerID, id)
		if key != 0 {
			params = append(params, key)
		}
		params = append(params, args.Limit+1)
	}
	var msgs []*models.Message
	if err := s.db.WithContext(ctx).Raw(strings.Join(parts, " UNION ALL "), params...).Scan(&msgs).Error; err != nil {
		return nil, translate(err, "messages")
	}
	byConv := make(map[int64][]*models.Message, len(convIDs))
	for _, m := range msgs {
		byConv[m.ConversationID] = append(byConv[m.ConversationID], m)
	}
	out := make(map[int64]*models.MessageConnection, len(convIDs))
	for _, id := range convIDs {
		list := byConv[id]
		slices.SortFunc(list, func(a, b *models.Message) int { return cmp.Compare(a.ID, b.ID) })
		if args.Backward {
			slices.Reverse(list) // relay.Connection expects the fetch order
		}
		out[id] = relay.Connection(args, list, func(m *models.Message) int64 { return m.ID })
	}
	return out, nil
}

// MessageCounts counts, per conversation, the messages viewerID can see.
func (s *Store) MessageCounts(ctx context.Context, viewerID int64, convIDs []int64) (map[int64]int, error) {
	var rows []struct {
		ConversationID int64
		N              int
	}
	err := s.db.WithContext(ctx).Raw(`
		SELECT msg.conversation_id, COUNT(*) AS n FROM messages msg
		JOIN conversation_members m ON m.conversation_id = msg.conversation_id AND m.user_id = ?
		WHERE msg.conversation_id IN ? AND `+visibleSQL+`
		GROUP BY msg.conversation_id`, viewerID, convIDs).Scan(&rows).Error
	if err != nil {
		return nil, translate(err, "message counts")
	}
	out := make(map[int64]int, len(convIDs))
	for _, id := range convIDs {
		out[id] = 0
	}
	for _, r := range rows {
		out[r.ConversationID] = r.N
	}
	return out, nil
}
