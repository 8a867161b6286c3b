-- Indexes for the references PostgreSQL checks when rows are deleted. For every deleted comment it
-- asks whether a reply still names it (`comments.parent_id`), for every deleted user whether a
-- comment or a room still names them (`comments.user_id`, `rooms.creator_id`). Without an index
-- each of those checks reads the whole table: deleting an application's 300,000 comments took
-- minutes, deleting its users as long again.
--
-- Replies by parent is partial: two comments in three are not replies, and a NULL parent needs no
-- entry (the check asks `parent_id = $1`, which implies the predicate). Built inside the
-- migration's transaction: writes to the tables wait for the few seconds each build takes.
CREATE INDEX IF NOT EXISTS comments_parent_idx ON comments (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS comments_user_idx ON comments (user_id);
CREATE INDEX IF NOT EXISTS rooms_creator_idx ON rooms (creator_id);
