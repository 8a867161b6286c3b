import { randomBytes, randomUUID } from "node:crypto";
import { pathToFileURL } from "node:url";
import { generateChatData } from "./bench-data.ts";
import { startScratchStack } from "./local/stack.ts";

/** What deleting one application's comments measured. */
export interface DeleteBenchResult {
  rows: number;
  replies: number;
  /** The reference indexes (replies by parent, comments by user, rooms by creator) were present. */
  parentIndex: boolean;
  /** Writing the rows (one INSERT ... SELECT): the scale the delete is read against. */
  generateSeconds: number;
  /** `DELETE FROM comments WHERE app_id = $1`; undefined when it ran past the time limit. */
  deleteCommentsSeconds?: number;
  /** A second application of the same size deleted whole (comments, rooms, users, itself). */
  deleteApplicationSeconds?: number;
  limitSeconds: number;
}

/**
 * On a fresh local database (autovacuum off, tables never analyzed, as an import leaves them):
 * an application with `rows` comments (a third replies) beside a neighbour application of a
 * third of that size, then the delete of the application's comments, timed; then a second
 * application of the same size deleted as a whole (comments, rooms with their participants,
 * users, the application, in one transaction). `parentIndex: false` drops the reference indexes first (replies by parent, comments
 * by user, rooms by creator), as the schema was before them. Each delete is cut at `limitSeconds` (statement_timeout).
 */
export async function benchDelete(
  rows: number,
  options: { parentIndex?: boolean; limitSeconds?: number } = {},
): Promise<DeleteBenchResult> {
  const parentIndex = options.parentIndex ?? true;
  const limitSeconds = options.limitSeconds ?? 900;
  const stack = await startScratchStack("bench-delete", {
    awsInChildProcess: true,
    postgresSettings: { autovacuum: "off" },
  });
  try {
    const { chatDb } = await import("../lib/chat-db/pool.ts");
    const { upsertApplication } = await import("../lib/chat-db/applications.ts");
    const db = chatDb();
    if (!parentIndex) {
      await db.query(
        "DROP INDEX IF EXISTS comments_parent_idx, comments_user_idx, rooms_creator_idx",
      );
    }
    const app = async (size: number) => {
      const appId = `delete-${randomUUID().slice(0, 8)}`;
      await upsertApplication({ appId, secret: randomBytes(12).toString("hex") });
      return { appId, generated: await generateChatData(db, appId, size) };
    };
    await app(Math.ceil(rows / 3));
    const started = performance.now();
    const target = await app(rows);
    const generateSeconds = (performance.now() - started) / 1000;
    const whole = await app(rows);

    const timed = async (statements: string[], appId: string): Promise<number | undefined> => {
      const client = await db.connect();
      try {
        await client.query(`SET statement_timeout = ${Math.round(limitSeconds * 1000)}`);
        const begun = performance.now();
        await client.query("BEGIN");
        for (const sql of statements) await client.query(sql, [appId]);
        await client.query("COMMIT");
        return (performance.now() - begun) / 1000;
      } catch (error) {
        await client.query("ROLLBACK").catch(() => {});
        if ((error as { code?: string }).code === "57014") return undefined;
        throw error;
      } finally {
        await client.query("RESET statement_timeout").catch(() => {});
        client.release();
      }
    };
    const deleteCommentsSeconds = await timed(
      ["DELETE FROM comments WHERE app_id = $1"],
      target.appId,
    );
    // In dependency order, in one transaction: a single cascading DELETE of the application
    // meets room_participants' reference to users before the cascade through rooms removes it.
    const deleteApplicationSeconds = await timed(
      [
        "DELETE FROM comments WHERE app_id = $1",
        "DELETE FROM rooms WHERE app_id = $1",
        "DELETE FROM users WHERE app_id = $1",
        "DELETE FROM applications WHERE app_id = $1",
      ],
      whole.appId,
    );
    return {
      rows: target.generated.comments,
      replies: target.generated.replies,
      parentIndex,
      generateSeconds: round(generateSeconds),
      deleteCommentsSeconds: deleteCommentsSeconds && round(deleteCommentsSeconds),
      deleteApplicationSeconds: deleteApplicationSeconds && round(deleteApplicationSeconds),
      limitSeconds,
    };
  } finally {
    await stack.stop();
  }
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

/** One line describing a run. */
export function describeDelete(result: DeleteBenchResult): string {
  const time = (seconds?: number) =>
    seconds === undefined ? `over ${result.limitSeconds} s (stopped)` : `${seconds} s`;
  return [
    `delete ${result.rows.toLocaleString("en-US")} comments (${result.replies.toLocaleString("en-US")} replies) of one application,`,
    `${result.parentIndex ? "with" : "WITHOUT"} the reference indexes:`,
    `comments ${time(result.deleteCommentsSeconds)}, the whole application ${time(result.deleteApplicationSeconds)}`,
    `(writing the rows took ${result.generateSeconds} s)`,
  ].join(" ");
}

// `tsx scripts/bench-delete.ts [rows] [--without-index] [--limit SECONDS]`
if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const args = process.argv.slice(2);
  const at = args.indexOf("--limit");
  const limitSeconds = at >= 0 ? Number(args[at + 1]) : undefined;
  const rows = Number(args.find((arg, i) => /^\d+$/.test(arg) && args[i - 1] !== "--limit"));
  const result = await benchDelete(rows || 300_000, {
    parentIndex: !args.includes("--without-index"),
    limitSeconds,
  });
  console.log(describeDelete(result));
  console.log(JSON.stringify(result));
  process.exit(0);
}
