import type pg from "pg";

/** What generateChatData() wrote for one application. */
export interface GeneratedChat {
  users: number;
  rooms: number;
  comments: number;
  replies: number;
}

/**
 * Writes a realistic application into the chat database the way an import leaves it: users,
 * group rooms with participants, and `comments` comments in creation order spread over the rooms,
 * each written by a participant of its room,
 * a third of them replies to an earlier comment of the same room (the reply payload naming it), every tenth a custom
 * comment with a nested payload, messages of varied length with non-ASCII text. One statement
 * per table, no ANALYZE: the planner sees the tables as a fresh import leaves them.
 */
export async function generateChatData(
  db: pg.Pool | pg.PoolClient,
  appId: string,
  comments: number,
): Promise<GeneratedChat> {
  const users = Math.max(3, Math.min(20_000, Math.ceil(comments / 50)));
  const rooms = Math.max(1, Math.min(5_000, Math.ceil(comments / 200)));
  const { rows: userRows } = await db.query<{ first: number }>(
    `WITH inserted AS (
       INSERT INTO users (app_id, email, name, avatar_url, authentication_token, password_hash, created_at)
       SELECT $1, 'user.' || g || '@example.com', 'User ' || g || ' Ñandú', 'https://avatars.example.com/' || g || '.png',
         md5($1 || g), '$2b$10$abcdefghijklmnopqrstuuQ1Zz7sGmJxYh0b1Yp5nD0yqK9V8fQ2m',
         timestamptz '2024-01-01T00:00:00Z' + g * interval '1 second'
       FROM generate_series(1, $2::int) AS g RETURNING id)
     SELECT min(id) AS first FROM inserted`,
    [appId, users],
  );
  const firstUser = Number(userRows[0]?.first);
  const { rows: roomRows } = await db.query<{ first: number }>(
    `WITH inserted AS (
       INSERT INTO rooms (app_id, unique_id, name, type, options, creator_id, created_at)
       SELECT $1, 'room-' || g, 'Room ' || g, 'group', '{"color":"blue"}', $3::bigint + (g % $4::int),
         timestamptz '2024-01-02T00:00:00Z' + g * interval '1 second'
       FROM generate_series(1, $2::int) AS g RETURNING id)
     SELECT min(id) AS first FROM inserted`,
    [appId, rooms, firstUser, users],
  );
  const firstRoom = Number(roomRows[0]?.first);
  await db.query(
    `INSERT INTO room_participants (room_id, user_id, position)
     SELECT $1::bigint + r, $2::bigint + ((r * 7 + p) % $3::int), p
     FROM generate_series(0, $4::int - 1) AS r, generate_series(0, 2) AS p`,
    [firstRoom, firstUser, users, rooms],
  );
  // Ids are taken up front so that a reply can name a parent written by the same statement.
  const { rows: idRows } = await db.query<{ first: number }>(
    "SELECT nextval('comments_id_seq') AS first",
  );
  const first = Number(idRows[0]?.first);
  await db.query("SELECT setval('comments_id_seq', $1::bigint)", [first + comments]);
  const { rowCount } = await db.query(
    `INSERT INTO comments (id, app_id, room_id, user_id, unique_id, type, message, payload,
       disable_link_preview, parent_id, created_at)
     SELECT $2::bigint + g, $1, $3::bigint + (g % $4::int), $5::bigint + (((g % $4::int) * 7 + g % 3) % $6::int),
       'c-' || g || '-' || md5(g::text),
       CASE WHEN g % 3 = 2 AND g > $4::int THEN 'reply' WHEN g % 10 = 0 THEN 'custom' ELSE 'text' END,
       CASE WHEN g % 13 = 0 THEN 'Halo 👋 "doc" \\ apa kabar? é ü 漢字' ELSE 'Message number ' || g END
         || ' ' || repeat('lorem ipsum ', g % 12),
       CASE WHEN g % 3 = 2 AND g > $4::int THEN jsonb_build_object('text', 'Balasan ' || g, 'replied_comment_id', $2::bigint + g - $4::int)
            WHEN g % 10 = 0 THEN jsonb_build_object('type', 'promo', 'content',
              jsonb_build_object('title', '50% off', 'price', 1.5 + g % 7, 'tags', jsonb_build_array('a', 'b', g)))
       END,
       g % 7 = 0,
       CASE WHEN g % 3 = 2 AND g > $4::int THEN $2::bigint + g - $4::int END,
       timestamptz '2024-02-01T00:00:00Z' + g * interval '10 millisecond'
         + CASE WHEN g % 5 = 0 THEN interval '0' ELSE interval '123 microsecond' END
     FROM generate_series(1, $7::int) AS g`,
    [appId, first - 1, firstRoom, rooms, firstUser, users, comments],
  );
  return {
    users,
    rooms,
    comments: rowCount ?? 0,
    // g % 3 = 2 for g in (rooms, comments].
    replies: Math.floor((comments + 1) / 3) - Math.floor((Math.min(rooms, comments) + 1) / 3),
  };
}
