-- The send baseline for pgbench: one row of a message's size into a table
-- with one index. Create it first:
--   CREATE TABLE bench_pgb (id bigserial PRIMARY KEY, conversation_id bigint NOT NULL,
--     sender_id bigint NOT NULL, text text NOT NULL, client_message_id text,
--     created_at timestamptz NOT NULL DEFAULT now());
INSERT INTO bench_pgb (conversation_id, sender_id, text) VALUES (1, 2, 'bench send 00 000000: hello there, nice video!');
