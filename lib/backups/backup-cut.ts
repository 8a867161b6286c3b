import type pg from "pg";
import { chatDb } from "../chat-db/pool.ts";
import type { BackupCut, Resource } from "../jobs/job-record.ts";

/**
 * The cut of a backup, and the snapshot its rows are read in.
 *
 * A backup holds every user, room and comment of one application as of one instant. The rows are
 * read inside one REPEATABLE READ, READ ONLY transaction: PostgreSQL then shows every statement
 * the same snapshot, so the three files hold exactly the committed rows of that instant and their
 * references close (foreign keys hold inside a snapshot). The first statement of the transaction
 * takes the cut: its time, each table's largest visible id and the snapshot itself.
 *
 * A backup that does not fit one invocation continues in a new transaction, i.e. a new snapshot.
 * Every statement keeps filtering on the cut's largest ids, so no row inserted after the cut
 * enters a later file. What a new snapshot can still see differently is a row changed after the
 * cut (an e-mail, a room's unique id, a new participant, a row of a transaction that was still
 * running at the cut). Deleted rows cannot break the set: the chat schema refuses to delete a
 * user, room or comment that rows still refer to. So before such a backup is reported finished,
 * {@link changedSinceCut} looks for any row of the application, inside the cut, that the cut's
 * snapshot did not see as it is now; if there is one, the backup fails and is not restored from.
 */

/** Opens the snapshot transaction on a connection of its own. */
export async function openSnapshot(): Promise<pg.PoolClient> {
  const client = await chatDb().connect();
  try {
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    return client;
  } catch (error) {
    client.release(true);
    throw error;
  }
}

/** Ends the snapshot transaction and gives the connection back (dropped when it is unusable). */
export async function closeSnapshot(client: pg.PoolClient, broken: boolean): Promise<void> {
  if (broken) {
    client.release(true);
    return;
  }
  try {
    await client.query("COMMIT");
    client.release();
  } catch {
    client.release(true);
  }
}

/** Takes the cut as the first statement of the snapshot transaction (so the snapshot is the cut's). */
export async function takeCut(client: pg.PoolClient): Promise<BackupCut> {
  const { rows } = await client.query<{
    at: string;
    snapshot: string;
    users: number;
    rooms: number;
    comments: number;
  }>(
    `SELECT to_char(transaction_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at,
            pg_current_snapshot()::text AS snapshot,
            (SELECT COALESCE(max(id), 0) FROM users)::bigint AS users,
            (SELECT COALESCE(max(id), 0) FROM rooms)::bigint AS rooms,
            (SELECT COALESCE(max(id), 0) FROM comments)::bigint AS comments`,
  );
  const row = rows[0];
  if (!row) throw new Error("the chat database answered the cut without a row");
  return {
    at: row.at,
    snapshot: row.snapshot,
    maxIds: { users: Number(row.users), rooms: Number(row.rooms), comments: Number(row.comments) },
  };
}

/** Rows of each type of the application inside the cut, counted in the snapshot of `client`. */
export async function countInCut(
  client: pg.ClientBase,
  appId: string,
  cut: BackupCut,
): Promise<Record<Resource, number>> {
  const { rows } = await client.query<Record<Resource, number>>(
    `SELECT (SELECT count(*) FROM users WHERE app_id = $1 AND id <= $2)::bigint AS users,
            (SELECT count(*) FROM rooms WHERE app_id = $1 AND id <= $3)::bigint AS rooms,
            (SELECT count(*) FROM comments WHERE app_id = $1 AND id <= $4)::bigint AS comments`,
    [appId, cut.maxIds.users, cut.maxIds.rooms, cut.maxIds.comments],
  );
  const row = rows[0] as Record<Resource, number>;
  return { users: Number(row.users), rooms: Number(row.rooms), comments: Number(row.comments) };
}

/**
 * A row's `xmin` (32-bit) as the full transaction id, next to the current one: the same epoch
 * unless it is numerically above the current low word (then it is from the epoch before).
 * Frozen rows show xmin 2 and are older than any snapshot.
 */
const XMIN8 = `(CASE WHEN t.xmin::text::bigint < 3 THEN '3'::xid8 ELSE
  ((((n.next >> 32) - CASE WHEN t.xmin::text::bigint > (n.next & 4294967295) THEN 1 ELSE 0 END) << 32)
   | t.xmin::text::bigint)::text::xid8 END)`;

/**
 * True when some row of the application inside the cut (users, rooms, their participants,
 * comments) was written by a transaction the cut's snapshot does not see: changed after the cut,
 * or inserted by a transaction still running at the cut. Only needed when the set was read in
 * more than one snapshot.
 */
export async function changedSinceCut(appId: string, cut: BackupCut): Promise<boolean> {
  const unseen = `NOT pg_visible_in_snapshot(${XMIN8}, $5::pg_snapshot)`;
  const { rows } = await chatDb().query<{ changed: boolean }>(
    `WITH n AS (SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS next)
     SELECT EXISTS (SELECT 1 FROM users t, n WHERE t.app_id = $1 AND t.id <= $2 AND ${unseen})
         OR EXISTS (SELECT 1 FROM rooms t, n WHERE t.app_id = $1 AND t.id <= $3 AND ${unseen})
         OR EXISTS (SELECT 1 FROM room_participants t JOIN rooms r ON r.id = t.room_id, n
                     WHERE r.app_id = $1 AND r.id <= $3 AND ${unseen})
         OR EXISTS (SELECT 1 FROM comments t, n WHERE t.app_id = $1 AND t.id <= $4 AND ${unseen})
       AS changed`,
    [appId, cut.maxIds.users, cut.maxIds.rooms, cut.maxIds.comments, cut.snapshot],
  );
  return rows[0]?.changed ?? true;
}
