import type pg from "pg";

/** A pool or a client inside a transaction: lookups run on either. */
export type Queryable = pg.Pool | pg.PoolClient;

/** Rows per INSERT statement: arrays of this many values travel as one parameter each. */
const BATCH_ROWS = 5000;

/** Existing users of the app among these e-mail addresses (compared lower-cased). */
export async function usersByEmail(
  db: Queryable,
  appId: string,
  emails: string[],
): Promise<Map<string, { id: number; email: string }>> {
  const { rows } = await db.query<{ id: number; email: string }>(
    "SELECT id, email FROM users WHERE app_id = $1 AND lower(email) = ANY($2::text[])",
    [appId, [...new Set(emails.map((email) => email.toLowerCase()))]],
  );
  return new Map(rows.map((row) => [row.email.toLowerCase(), row]));
}

/** The authentication tokens among these that users of the app already have. */
export async function existingTokens(
  db: Queryable,
  appId: string,
  tokens: string[],
): Promise<Set<string>> {
  const { rows } = await db.query<{ token: string }>(
    "SELECT authentication_token AS token FROM users WHERE app_id = $1 AND authentication_token = ANY($2::text[])",
    [appId, tokens],
  );
  return new Set(rows.map((row) => row.token));
}

export interface ExistingRoom {
  id: number;
  uniqueId: string;
  participantIds: Set<number>;
}

/** Rooms of the app with these unique ids, with their participants. */
export async function roomsByUniqueId(
  db: Queryable,
  appId: string,
  uniqueIds: string[],
): Promise<Map<string, ExistingRoom>> {
  const { rows } = await db.query<{ id: number; unique_id: string; participants: number[] }>(
    `SELECT r.id, r.unique_id,
       ARRAY(SELECT rp.user_id FROM room_participants rp WHERE rp.room_id = r.id) AS participants
     FROM rooms r WHERE r.app_id = $1 AND r.unique_id = ANY($2::text[])`,
    [appId, uniqueIds],
  );
  return new Map(
    rows.map((row) => [
      row.unique_id,
      {
        id: row.id,
        uniqueId: row.unique_id,
        participantIds: new Set(row.participants.map(Number)),
      },
    ]),
  );
}

export interface ExistingComment {
  id: number;
  roomId: number;
  /** Microseconds since the epoch, PostgreSQL's own precision. */
  createdAtMicros: number;
}

/** Comments of the app with these unique ids. */
export async function commentsByUniqueId(
  db: Queryable,
  appId: string,
  uniqueIds: string[],
): Promise<Map<string, ExistingComment>> {
  const { rows } = await db.query<{
    id: number;
    unique_id: string;
    room_id: number;
    micros: number;
  }>(
    `SELECT id, unique_id, room_id,
       (extract(epoch FROM created_at) * 1000000)::bigint AS micros
     FROM comments WHERE app_id = $1 AND unique_id = ANY($2::text[])`,
    [appId, uniqueIds],
  );
  return new Map(
    rows.map((row) => [
      row.unique_id,
      { id: row.id, roomId: row.room_id, createdAtMicros: row.micros },
    ]),
  );
}

/** `count` fresh ids of a table's sequence, ascending, so that rows keep the file's order. */
export async function reserveIds(
  client: pg.PoolClient,
  table: "rooms" | "comments",
  count: number,
): Promise<number[]> {
  if (count === 0) return [];
  const { rows } = await client.query<{ id: number }>(
    "SELECT nextval(pg_get_serial_sequence($1, 'id')) AS id FROM generate_series(1, $2)",
    [table, count],
  );
  return rows.map((row) => row.id).sort((a, b) => a - b);
}

/**
 * Inserts columns of equal length in batches via `unnest`, one statement per batch. The
 * parameters are `fixed` first, then one array per column.
 */
async function insertColumns(
  client: pg.PoolClient,
  sql: string,
  fixed: unknown[],
  columns: unknown[][],
): Promise<void> {
  const length = columns[0]?.length ?? 0;
  for (let start = 0; start < length; start += BATCH_ROWS) {
    await client.query(sql, [
      ...fixed,
      ...columns.map((column) => column.slice(start, start + BATCH_ROWS)),
    ]);
  }
}

export interface NewUser {
  email: string;
  name: string;
  avatarUrl: string;
  authenticationToken: string;
  passwordHash: string;
  createdAt: string;
}

export async function insertUsers(
  client: pg.PoolClient,
  appId: string,
  users: NewUser[],
): Promise<void> {
  await insertColumns(
    client,
    `INSERT INTO users (app_id, email, name, avatar_url, authentication_token, password_hash, created_at)
     SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[])`,
    [appId],
    [
      users.map((user) => user.email),
      users.map((user) => user.name),
      users.map((user) => user.avatarUrl),
      users.map((user) => user.authenticationToken),
      users.map((user) => user.passwordHash),
      users.map((user) => user.createdAt),
    ],
  );
}

export interface NewRoom {
  id: number;
  uniqueId: string;
  name: string;
  type: "single" | "group";
  options: string;
  avatarUrl: string;
  creatorId: number;
  createdAt: string;
  participantIds: number[];
}

export async function insertRooms(
  client: pg.PoolClient,
  appId: string,
  rooms: NewRoom[],
): Promise<void> {
  await insertColumns(
    client,
    `INSERT INTO rooms (app_id, id, unique_id, name, type, options, avatar_url, creator_id, created_at)
     SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[],
       $7::text[], $8::bigint[], $9::timestamptz[])`,
    [appId],
    [
      rooms.map((room) => room.id),
      rooms.map((room) => room.uniqueId),
      rooms.map((room) => room.name),
      rooms.map((room) => room.type),
      rooms.map((room) => room.options),
      rooms.map((room) => room.avatarUrl),
      rooms.map((room) => room.creatorId),
      rooms.map((room) => room.createdAt),
    ],
  );
  const participants = rooms.flatMap((room) =>
    room.participantIds.map((userId, position) => [room.id, userId, position] as const),
  );
  await insertColumns(
    client,
    `INSERT INTO room_participants (room_id, user_id, position)
     SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::int[])`,
    [],
    [
      participants.map((entry) => entry[0]),
      participants.map((entry) => entry[1]),
      participants.map((entry) => entry[2]),
    ],
  );
}

export interface NewComment {
  id: number;
  roomId: number;
  userId: number;
  uniqueId: string;
  type: string;
  message: string;
  /** JSON text, or null for no payload. */
  payload: string | null;
  disableLinkPreview: boolean;
  parentId: number | null;
  createdAt: string;
}

export async function insertComments(
  client: pg.PoolClient,
  appId: string,
  comments: NewComment[],
): Promise<void> {
  await insertColumns(
    client,
    `INSERT INTO comments (app_id, id, room_id, user_id, unique_id, type, message, payload,
       disable_link_preview, parent_id, created_at)
     SELECT $1, * FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::text[],
       $7::text[], $8::jsonb[], $9::boolean[], $10::bigint[], $11::timestamptz[])`,
    [appId],
    [
      comments.map((comment) => comment.id),
      comments.map((comment) => comment.roomId),
      comments.map((comment) => comment.userId),
      comments.map((comment) => comment.uniqueId),
      comments.map((comment) => comment.type),
      comments.map((comment) => comment.message),
      comments.map((comment) => comment.payload),
      comments.map((comment) => comment.disableLinkPreview),
      comments.map((comment) => comment.parentId),
      comments.map((comment) => comment.createdAt),
    ],
  );
}

/** Serialises imports of one application: checks against its data and writes happen alone. */
export async function lockApplicationImports(client: pg.PoolClient, appId: string): Promise<void> {
  await client.query("SELECT pg_advisory_xact_lock(hashtext('import:' || $1))", [appId]);
}

/** Rows written by this import job, or undefined when it has not been applied. */
export async function appliedRows(db: Queryable, jobId: string): Promise<number | undefined> {
  const { rows } = await db.query<{ rows_written: number }>(
    "SELECT rows_written FROM import_jobs_applied WHERE job_id = $1",
    [jobId],
  );
  return rows[0]?.rows_written;
}

/** Records, inside the import's transaction, that its rows were written. */
export async function markApplied(
  client: pg.PoolClient,
  job: { appId: string; jobId: string; resource: string },
  rowsWritten: number,
): Promise<void> {
  await client.query(
    "INSERT INTO import_jobs_applied (job_id, app_id, resource, rows_written) VALUES ($1, $2, $3, $4)",
    [job.jobId, job.appId, job.resource, rowsWritten],
  );
}
