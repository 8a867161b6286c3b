import { SendMessageBatchCommand } from "@aws-sdk/client-sqs";
import { sqs } from "../aws/sqs.ts";
import { chatDb } from "../chat-db/pool.ts";
import { dropStaging, type StagingTables, stagingTables } from "../chat-db/staging.ts";
import { config } from "../config.ts";
import { type InvocationClock, type JobMessage, sendJobMessage } from "../jobs/job-queue.ts";
import { jobStore } from "../jobs/job-store.ts";
import { raiseProgress } from "../jobs/lifecycle/index.ts";
import { logger } from "../observability.ts";
import { passwordHasher } from "./password-hasher.ts";

/**
 * Plain passwords of a users import are hashed by many invocations at once: the job's staging
 * rows are cut into chunks of this many passwords, one queue message each.
 */
export const PASSWORDS_PER_CHUNK = 256;

/** A job message that asks for one chunk of a users import's passwords to be hashed. */
export interface HashChunkMessage extends JobMessage {
  /** Staging rows `from` (inclusive) to `to` (exclusive). */
  chunk: { from: number; to: number };
}

/** True when the message is a hashing chunk rather than the job's own message. */
export function isHashChunk(message: JobMessage): message is HashChunkMessage {
  const chunk = (message as Partial<HashChunkMessage>).chunk;
  return Number.isInteger(chunk?.from) && Number.isInteger(chunk?.to);
}

/** True while some staging row of a users import still holds a plain password. */
export async function hasPlainPasswords(tables: StagingTables): Promise<boolean> {
  const { rows } = await chatDb().query(
    `SELECT 1 FROM ${tables.rows} WHERE password IS NOT NULL LIMIT 1`,
  );
  return rows.length > 0;
}

/**
 * Fan-out: queues one message per chunk of plain passwords (SendMessageBatch, ten a call) and
 * marks the job's staging as handed out, so that a repeated job message does not queue them
 * again. Each chunk message carries the job's sequence, so that a chunk that dead-letters ends
 * the job `failed` like any of its messages.
 * @returns how many chunks were queued (0 when an earlier delivery already queued them)
 */
export async function fanOutHashing(job: JobMessage, tables: StagingTables): Promise<number> {
  const { rows: marked } = await chatDb().query<{ queued: boolean }>(
    "SELECT hashing_queued AS queued FROM import_staging.loaded WHERE job_id = $1",
    [job.jobId],
  );
  if (marked[0]?.queued) return 0;
  const { rows: starts } = await chatDb().query<{ row: number }>(
    `SELECT row FROM (
       SELECT row, row_number() OVER (ORDER BY row) - 1 AS n FROM ${tables.rows}
       WHERE password IS NOT NULL) numbered
     WHERE n % $1 = 0 ORDER BY row`,
    [PASSWORDS_PER_CHUNK],
  );
  const messages: HashChunkMessage[] = starts.map(({ row }, i) => ({
    kind: "import",
    appId: job.appId,
    jobId: job.jobId,
    seq: job.seq,
    chunk: { from: row, to: starts[i + 1]?.row ?? 2 ** 31 - 1 },
  }));
  for (let i = 0; i < messages.length; i += 10) {
    const batch = messages.slice(i, i + 10);
    const { Failed = [] } = await sqs().send(
      new SendMessageBatchCommand({
        QueueUrl: config().importQueueUrl,
        Entries: batch.map((message, j) => ({
          Id: String(j),
          MessageBody: JSON.stringify(message),
        })),
      }),
    );
    if (Failed.length) throw new Error(`${Failed.length} hashing chunks could not be queued`);
  }
  const { rows: counted } = await chatDb().query<{ n: number }>(
    `SELECT count(*)::int AS n FROM ${tables.rows} WHERE password IS NOT NULL`,
  );
  await chatDb().query(
    "UPDATE import_staging.loaded SET hashing_queued = true, passwords = $2 WHERE job_id = $1",
    [job.jobId, counted[0]?.n ?? 0],
  );
  return messages.length;
}

/** Hashing moves the job's percentage from where loading left it (50) up to this. */
const HASHED_PERCENTAGE = 95;

interface HashCounts {
  /** Plain passwords of the job at fan-out. */
  passwords: number;
  /** Hashed so far, this round's included. */
  hashed: number;
  /** Hashed by this round. */
  added: number;
}

/** The job's percentage once `hashed` of `passwords` are hashed: 50 to 95, in steps of 5. */
function hashingPercentage(passwords: number, hashed: number): number {
  const share = Math.min(hashed / passwords, 1);
  return 50 + Math.floor((share * (HASHED_PERCENTAGE - 50)) / 5) * 5;
}

/**
 * Raises the job's percentage with the share of passwords hashed. Only the round that crosses a
 * step writes (conditionally: never down, only while the job runs).
 */
async function showHashingProgress(
  message: JobMessage,
  counts: HashCounts | undefined,
): Promise<void> {
  if (!counts || counts.passwords <= 0 || counts.added <= 0) return;
  const percentage = hashingPercentage(counts.passwords, counts.hashed);
  if (percentage <= hashingPercentage(counts.passwords, counts.hashed - counts.added)) return;
  await raiseProgress(message.appId, message.jobId, percentage).catch((error) =>
    logger.warn("import progress not recorded", { error }),
  );
}

/**
 * Hashes one chunk of a users import's plain passwords, a round (a few per thread) at a time.
 * Each hash replaces its password in one UPDATE that only touches rows still holding one, so a
 * duplicate or retried delivery redoes nothing and a crash loses at most one round. When time
 * runs low the chunk queues itself again. Fan-in: the chunk that leaves no plain password in the
 * job queues the job's own message, which writes the rows (several may; the job takes one).
 * @returns false when the job has ended or its staging is gone (nothing to do)
 */
export async function hashChunk(
  message: HashChunkMessage,
  clock: InvocationClock,
): Promise<boolean> {
  const tables = stagingTables(message.jobId);
  const db = chatDb();
  const { rows: loaded } = await db.query("SELECT 1 FROM import_staging.loaded WHERE job_id = $1", [
    message.jobId,
  ]);
  if (loaded.length === 0) return false;
  // A job whose record is gone (deleted or expired) is not hashed for: its staging goes now.
  if (!(await jobStore().get(message.appId, message.jobId))) {
    await dropStaging(db, message.jobId);
    logger.info("hashing chunk of a job that no longer exists: its staging tables are dropped");
    return false;
  }
  const round = passwordHasher().size * 4;
  for (let first = true; ; first = false) {
    if (!first && clock.getRemainingTimeInMillis() < config().importReserveMillis) {
      await sendJobMessage(message);
      logger.info("hashing chunk continues in a new invocation", { from: message.chunk.from });
      return true;
    }
    const { rows } = await db.query<{ row: number; password: string }>(
      `SELECT row, password FROM ${tables.rows}
       WHERE row >= $1 AND row < $2 AND password IS NOT NULL ORDER BY row LIMIT $3`,
      [message.chunk.from, message.chunk.to, round],
    );
    if (rows.length === 0) break;
    const hashes = await passwordHasher().hashAll(rows.map((row) => row.password));
    // The hashes and the job's count of them in one statement: only rows this UPDATE changed
    // are counted, so a duplicate delivery of the chunk counts nothing twice.
    const { rows: counts } = await db.query<HashCounts>(
      `WITH stored AS (
         UPDATE ${tables.rows} s SET password_hash = h.hash, password = NULL
         FROM unnest($1::int[], $2::text[]) AS h(row, hash)
         WHERE s.row = h.row AND s.password IS NOT NULL
         RETURNING 1)
       UPDATE import_staging.loaded SET passwords_hashed = passwords_hashed + (SELECT count(*) FROM stored)
       WHERE job_id = $3
       RETURNING passwords, passwords_hashed AS hashed, (SELECT count(*)::int FROM stored) AS added`,
      [rows.map((row) => row.row), hashes, message.jobId],
    );
    await showHashingProgress(message, counts[0]);
  }
  if (!(await hasPlainPasswords(tables))) {
    const { chunk: _chunk, ...jobMessage } = message;
    await sendJobMessage(jobMessage);
    logger.info("every password hashed; the import goes on");
  }
  return true;
}
