import { chatDb } from "../chat-db/pool.ts";
import type { StagingTables } from "../chat-db/staging.ts";
import { passwordHasher } from "./password-hasher.ts";

/**
 * Hashes the plain passwords waiting in a users import's staging rows, a round at a time; each
 * hash replaces its password in the same UPDATE, so what is done survives the invocation and a
 * later one goes on from there.
 * @returns true when no password is left, false when time ran out first
 */
export async function hashStagedPasswords(
  tables: StagingTables,
  options: { timeIsUp(): boolean; progress(hashed: number, total: number): void },
): Promise<boolean> {
  const db = chatDb();
  const { rows: counts } = await db.query<{ total: number; left: number }>(
    `SELECT count(*) FILTER (WHERE password IS NOT NULL)::int AS left,
       count(*)::int AS total FROM ${tables.rows}`,
  );
  // A few passwords per thread a round: every thread busy, and little lost when time runs out.
  const round = passwordHasher().size * 4;
  let first = true;
  const total = counts[0]?.total ?? 0;
  let left = counts[0]?.left ?? 0;
  while (left > 0) {
    // Each invocation hashes at least one round, so that a job always moves on.
    if (!first && options.timeIsUp()) return false;
    first = false;
    const { rows } = await db.query<{ row: number; password: string }>(
      `SELECT row, password FROM ${tables.rows} WHERE password IS NOT NULL ORDER BY row LIMIT $1`,
      [round],
    );
    if (rows.length === 0) break;
    const hashes = await passwordHasher().hashAll(rows.map((row) => row.password));
    await db.query(
      `UPDATE ${tables.rows} s SET password_hash = h.hash, password = NULL
       FROM unnest($1::int[], $2::text[]) AS h(row, hash) WHERE s.row = h.row`,
      [rows.map((row) => row.row), hashes],
    );
    left -= rows.length;
    options.progress(total - left, total);
  }
  return true;
}

/** True while some staging row of a users import still holds a plain password. */
export async function hasPlainPasswords(tables: StagingTables): Promise<boolean> {
  const { rows } = await chatDb().query(
    `SELECT 1 FROM ${tables.rows} WHERE password IS NOT NULL LIMIT 1`,
  );
  return rows.length > 0;
}
