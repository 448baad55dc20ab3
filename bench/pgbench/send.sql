-- One send in its own transaction, as store/send_postgres.go wrote it before
-- group commit (commit 6e62af8), for pgbench, without the server: what
-- PostgreSQL alone does for an unbatched send on this machine (see
-- BENCHMARKS.md). An INBOX send between friends, with literals for the
-- Go-side parameters. The store now writes up to 64 sends per transaction
-- with the same steps over arrays; this script stays as the unbatched
-- reference.
-- :first and :last bound the ids of follows rows between friend pairs, e.g.
-- after `go run ./bench -scenarios send`:
--   pgbench -n -M prepared -c 32 -j 2 -T 10 -f bench/pgbench/send.sql \
--     -D first=MIN -D last=MAX dmgraph_bench
-- with MIN and MAX the smallest and largest follows.id of that run's pairs.
\set fid random(:first, :last)
SELECT follower_id AS s, followee_id AS r, least(follower_id, followee_id) || ':' || greatest(follower_id, followee_id) AS k FROM follows WHERE id = :fid \gset
\startpipeline
BEGIN;
INSERT INTO conversations (direct_key, last_message_id, created_at, updated_at) VALUES (:k, 0, now(), now()) ON CONFLICT (direct_key) DO NOTHING;
SELECT id, direct_key, last_message_id, last_message_at, created_at, updated_at FROM conversations WHERE direct_key = :k FOR UPDATE;
SELECT id FROM users WHERE id IN (:s, :r) ORDER BY id FOR UPDATE;
SELECT EXISTS (SELECT 1 FROM messages dm WHERE dm.sender_id = :s AND dm.client_message_id = NULL) AS duplicate, u.dm_policy AS recipient_policy, u.birth_date AS recipient_birth_date, su.birth_date AS sender_birth_date, EXISTS (SELECT 1 FROM blocks b WHERE (b.blocker_id = :s AND b.blocked_id = :r) OR (b.blocker_id = :r AND b.blocked_id = :s)) AS blocked, EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = :r AND f.followee_id = :s) AS recipient_follows_sender, EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = :s AND f.followee_id = :r) AS sender_follows_recipient, COALESCE((SELECT m.status FROM conversation_members m WHERE m.conversation_id = c.id AND m.user_id = :r), '') AS recipient_status, COALESCE(q.message_count, 0) AS request_messages, COALESCE(q.id, 0) AS request_id, (EXISTS (SELECT 1 FROM synced_contacts sc WHERE sc.owner_id = :r AND sc.phone_hash = su.phone_hash) OR EXISTS (SELECT 1 FROM facebook_links rl JOIN facebook_links sl ON sl.user_id = :s WHERE rl.user_id = :r AND ( EXISTS (SELECT 1 FROM facebook_friends f WHERE f.user_id = :r AND f.friend_facebook_id = sl.facebook_user_id) OR EXISTS (SELECT 1 FROM facebook_friends f WHERE f.user_id = :s AND f.friend_facebook_id = rl.facebook_user_id))) ) AS suggested FROM users u JOIN users su ON su.id = :s LEFT JOIN conversations c ON c.direct_key = :k LEFT JOIN message_requests q ON q.conversation_id = c.id AND q.recipient_id = :r AND q.status = 'OPEN' WHERE u.id = :r;
\endpipeline
\startpipeline
WITH msg AS (
	INSERT INTO messages (conversation_id, sender_id, text, video_id, client_message_id, delivery, created_at)
	SELECT id, :s, 'bench send 00 000000: hello there, nice video!', NULL, NULL, 'INBOX', now() FROM conversations WHERE direct_key = :k RETURNING id, conversation_id
), mem AS (
	INSERT INTO conversation_members AS cm (conversation_id, user_id, status, last_message_id, last_read_message_id, read_at, cleared_through_id, created_at)
	SELECT msg.conversation_id, v.user_id, v.status, msg.id, CASE WHEN v.user_id = :s THEN msg.id ELSE 0 END, v.read_at, 0, now()
	FROM msg, (VALUES (:s::bigint, 'ACTIVE'::text, now()), (:r::bigint, 'ACTIVE'::text, NULL::timestamptz)) v (user_id, status, read_at)
	ON CONFLICT (conversation_id, user_id) DO UPDATE SET status = excluded.status, last_message_id = excluded.last_message_id,
		last_read_message_id = CASE WHEN excluded.user_id = :s THEN excluded.last_read_message_id ELSE cm.last_read_message_id END,
		read_at = CASE WHEN excluded.user_id = :s THEN excluded.read_at ELSE cm.read_at END
	RETURNING cm.user_id
), conv AS (
	UPDATE conversations SET last_message_id = (SELECT id FROM msg), last_message_at = now(), updated_at = now() WHERE id = (SELECT conversation_id FROM msg)
), req AS (UPDATE message_requests SET status = 'ACCEPTED', resolved_at = now() WHERE conversation_id = (SELECT conversation_id FROM msg) AND status = 'OPEN' RETURNING id)
SELECT msg.id, (SELECT count(*) FROM req) FROM msg JOIN mem ON mem.user_id = :s;
COMMIT;
\endpipeline
