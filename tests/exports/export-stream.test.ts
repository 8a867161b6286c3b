import { randomUUID } from "node:crypto";
import type pg from "pg";
import { describe, expect, it } from "vitest";
import { cursorOf } from "../../lib/chat-db/copy-row-reader.ts";
import { orderedScan } from "../../lib/chat-db/export-queries.ts";
import { exportRowsQuery } from "../../lib/chat-db/export-row-shapes.ts";
import type { ExportScope } from "../../lib/chat-db/export-scope.ts";
import { openExportRowStream } from "../../lib/chat-db/export-stream.ts";
import { javascriptJson, withoutSpaces } from "../../lib/chat-db/jsonb-text.ts";
import { chatDb } from "../../lib/chat-db/pool.ts";
import type { Resource } from "../../lib/jobs/job-record.ts";
import { generateChatData } from "../../scripts/bench-data.ts";
import { newApp, type TestApp } from "../support/harness.ts";
import { insertComment, insertRoom, insertUser } from "./export-fixtures.ts";

/** Text that stresses JSON escaping: every C0 control, quotes, backslashes, DEL, U+2028, emoji. */
const TRICKY = [
  "",
  'quote " and back\\slash \\" \\\\n',
  Array.from({ length: 31 }, (_, i) => String.fromCharCode(i + 1)).join(""),
  "del \u007f line\u2028para\u2029 nbsp\u00a0",
  "emoji 👋🏽 👨‍👩‍👧 漢字 Ñandú é",
  "</script><!-- & ' ` $ {} []",
  "tab\tnewline\ncr\r",
];

/** Payloads whose jsonb text differs from JavaScript's: numbers, key order, spacing, nesting. */
const PAYLOADS: unknown[] = [
  null,
  {},
  [],
  "just a string",
  42,
  { a: 1, b: [1, 2, { c: null }], d: true, e: false, f: "" },
  { "10": "ten", "2": "two", a: "a", "-1": "minus", "01": "zero-one", bb: 1 },
  { text: TRICKY.join("|"), nested: { deeper: { deepest: [TRICKY[2], TRICKY[4]] } } },
];
/** Payloads as raw JSON text, so that numbers reach jsonb exactly as written. */
const RAW_PAYLOADS = [
  '{"one": 1.0, "exp": 1e5, "big": 12345678901234567890, "huge": 123456789012345678901234567890}',
  '{"neg": -0, "small": 1e-7, "tiny": 0.000001, "large": 1.5e300, "frac": 0.30000000000000004}',
  '{"e20": 1e20, "e21": 1e21, "trail": 1.50, "x": 10.0e-1, "escaped": "\\u00e9\\u0001\\/"}',
  "null",
  '[1.0, 2.50, -3e2, {"k": [0.1, 1E2]}]',
];

/**
 * The file's rows as the export has always serialised them: columns read through the driver
 * (jsonb parsed by it), keys set in the import format's order, JSON.stringify.
 */
async function referenceRows(app: TestApp, resource: Resource): Promise<string[]> {
  const time = (column: string) =>
    `to_char((${column} AT TIME ZONE 'UTC'), 'YYYY-MM-DD"T"HH24:MI:SS') || CASE WHEN date_trunc('second', ${column}) = ${column} THEN '' ELSE to_char((${column} AT TIME ZONE 'UTC'), '.US') END || 'Z'`;
  const queries: Record<Resource, string> = {
    users: `SELECT t.*, ${time("t.created_at")} AS at FROM users t WHERE t.app_id = $1 ORDER BY t.created_at, t.id`,
    rooms: `SELECT t.*, ${time("t.created_at")} AS at, c.email AS creator_email,
      ARRAY(SELECT pu.email FROM room_participants rp JOIN users pu ON pu.id = rp.user_id
            WHERE rp.room_id = t.id ORDER BY rp.position, rp.user_id) AS emails
      FROM rooms t JOIN users c ON c.id = t.creator_id WHERE t.app_id = $1 ORDER BY t.created_at, t.id`,
    comments: `SELECT t.*, ${time("t.created_at")} AS at, c.email AS creator_email,
      r.unique_id AS room_unique_id, COALESCE(p.unique_id, '') AS parent_unique_id
      FROM comments t JOIN users c ON c.id = t.user_id JOIN rooms r ON r.id = t.room_id
      LEFT JOIN comments p ON p.id = t.parent_id WHERE t.app_id = $1 ORDER BY t.created_at, t.id`,
  };
  const { rows } = await chatDb().query(queries[resource], [app.appId]);
  return rows.map((row) =>
    JSON.stringify(
      resource === "users"
        ? {
            Email: row.email,
            Name: row.name,
            AvatarUrl: row.avatar_url,
            AuthenticationToken: row.authentication_token,
            PasswordHash: row.password_hash,
            CreateAt: row.at,
          }
        : resource === "rooms"
          ? {
              Name: row.name,
              Type: row.type,
              Options: row.options,
              CreatorEmail: row.creator_email,
              CreatedAt: row.at,
              AvatarUrl: row.avatar_url,
              UniqueId: row.unique_id,
              ParticipantEmails: row.emails,
            }
          : {
              Message: row.message,
              DisableLinkPreview: row.disable_link_preview,
              Type: row.type,
              UniqueId: row.unique_id,
              CreatorEmail: row.creator_email,
              RoomUniqueId: row.room_unique_id,
              CreatedAt: row.at,
              Payload: row.payload ?? null,
              ParentCommentUniqueId: row.parent_unique_id,
            },
    ),
  );
}

function scopeOf(app: TestApp, resource: Resource): ExportScope {
  return {
    appId: app.appId,
    resource,
    cutId: Number.MAX_SAFE_INTEGER,
    createdUntil: "2100-01-01T00:00:00Z",
    timezone: "UTC",
  };
}

/** The rows as the export stream writes them, `limit` rows a statement. */
async function streamedRows(app: TestApp, resource: Resource, limit: number): Promise<string[]> {
  const stream = await openExportRowStream(scopeOf(app, resource));
  const lines: string[] = [];
  try {
    let cursor: { createdAt: string; id: number } | undefined;
    for (;;) {
      const reader = stream.rows(cursor, limit);
      let count = 0;
      for (let row = await reader.next(); row; row = await reader.next()) {
        if (!stream.writer.resolve(row)) {
          await stream.writer.fetchNames([row]);
          expect(stream.writer.resolve(row)).toBe(true);
        }
        const chunks: Buffer[] = [];
        stream.writer.write(row, {
          appendBytes: (bytes) => chunks.push(Buffer.from(bytes)),
          appendRange: (data, start, end) => chunks.push(Buffer.from(data.subarray(start, end))),
          appendText: (text) => chunks.push(Buffer.from(text, "utf8")),
        });
        lines.push(Buffer.concat(chunks).toString("utf8"));
        cursor = cursorOf(row);
        count += 1;
      }
      if (count < limit) break;
    }
  } finally {
    await stream.close();
  }
  return lines;
}

/** A small seeded generator, so that a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state / 2_147_483_648;
  };
}

/** Raw JSON text of a random value: numbers written every way JSON allows, odd keys and strings. */
function randomJson(next: () => number, depth: number): string {
  const pick = <T>(items: T[]): T => items[Math.floor(next() * items.length)] as T;
  const roll = next();
  if (depth > 2 || roll < 0.45) {
    return pick([
      () => String(Math.floor(next() * 1000)),
      () => (next() * 1000).toFixed(Math.floor(next() * 4)),
      () => pick(["1.0", "-0", "0.0", "1e5", "2E-3", "1.50", "-12.340", "0.000001", "0.0000001"]),
      () => pick(["123456789012345", "1234567890123456", "12345678901234567890", "1e21", "1e20"]),
      () => pick(["0.1", "0.30000000000000004", "-7.25", "3.141592653589793", "1.5e300", "-1e-7"]),
      () => JSON.stringify(pick(TRICKY)),
      () => pick(["true", "false", "null", '""', '"\\u00e9\\/"', '"\\ud83d\\udc4b"']),
    ])();
  }
  const size = Math.floor(next() * 4);
  if (roll < 0.7) {
    return `[${Array.from({ length: size }, () => randomJson(next, depth + 1)).join(next() < 0.5 ? "," : " , ")}]`;
  }
  const keys = ["text", "a", "bb", "", "10", "2", "01", "-1", "é", 'k\\"y', "replied_comment_id"];
  return `{${Array.from({ length: size }, () => `${JSON.stringify(pick(keys))}:${randomJson(next, depth + 1)}`).join(",")}}`;
}

describe("jsonb text in JavaScript's form", () => {
  it("given thousands of random values, then the fast path agrees with JSON.parse + JSON.stringify and serves most of them", async () => {
    const next = random(20261129);
    const raws = Array.from({ length: 3000 }, () => randomJson(next, 0));
    raws.push(...RAW_PAYLOADS, '{"a": {"b": [1, 2.5, "x y"]}, "c": "d, e: f"}');
    const { rows } = await chatDb().query<{ text: string }>(
      "SELECT raw::jsonb::text AS text FROM unnest($1::text[]) WITH ORDINALITY AS r(raw, n) ORDER BY n",
      [raws],
    );
    let fast = 0;
    for (const { text } of rows) {
      const jsonb = Buffer.from(text, "utf8");
      const expected = JSON.stringify(JSON.parse(text));
      if (withoutSpaces(jsonb)) fast += 1;
      expect(javascriptJson(jsonb).toString("utf8"), text).toBe(expected);
    }
    expect(rows.length).toBe(raws.length);
    expect(fast / rows.length).toBeGreaterThan(0.5);
  });
});

describe("export rows built by the chat database", () => {
  it("given values that stress JSON (controls, quotes, unicode, odd numbers, key order), then every row is byte-identical to the JavaScript serialisation", async () => {
    const app = await newApp();
    const userIds: number[] = [];
    for (const [i, text] of TRICKY.entries()) {
      userIds.push(
        await insertUser(app, {
          email: `u${i}-${randomUUID().slice(0, 4)}@example.com`,
          name: text,
          avatarUrl: text,
          token: `${text}-${i}`,
          createdAt: [
            "2024-01-01T00:00:00Z",
            "2024-01-01T00:00:00.5Z",
            "2024-01-01T00:00:00.000001Z",
            "1999-12-31T23:59:59.999999Z",
            "1969-07-20T20:17:40.25Z",
          ][i % 5],
        }),
      );
    }
    const roomId = await insertRoom(app, {
      creatorId: userIds[1] as number,
      participantIds: [userIds[3] as number, userIds[0] as number, userIds[2] as number],
      name: TRICKY[4],
      options: TRICKY[2],
      uniqueId: TRICKY[1],
      createdAt: "2024-01-02T03:04:05.123456Z",
    });
    await insertRoom(app, { creatorId: userIds[0] as number, participantIds: [], name: "" });
    let parent: number | undefined;
    for (const [i, payload] of [...PAYLOADS, ...RAW_PAYLOADS.map((raw) => ({ raw }))].entries()) {
      const id = await insertComment(app, {
        roomId,
        userId: userIds[i % userIds.length] as number,
        uniqueId: `${TRICKY[i % TRICKY.length]}#${i}`,
        type: i % 2 ? "custom" : "reply",
        message: TRICKY[(i + 3) % TRICKY.length],
        disableLinkPreview: i % 3 === 0,
        parentId: parent,
        createdAt: "2024-03-01T00:00:00Z",
      });
      const raw = (payload as { raw?: string } | null)?.raw;
      await chatDb().query("UPDATE comments SET payload = $2::jsonb WHERE id = $1", [
        id,
        raw ?? (payload === null ? null : JSON.stringify(payload)),
      ]);
      parent = i % 2 ? id : undefined;
    }

    for (const resource of ["users", "rooms", "comments"] as const) {
      const expected = await referenceRows(app, resource);
      expect(expected.length).toBeGreaterThan(1);
      // Statements of 3 rows: the keyset continues across them.
      expect(await streamedRows(app, resource, 3)).toEqual(expected);
    }
  });

  it("given a freshly imported table with no statistics, whatever the planner's costs say, then the export statement runs as an ordered index scan", async () => {
    const app = await newApp();
    const client: pg.PoolClient = await chatDb().connect();
    try {
      // Temporary tables shadow the real ones on this connection and autovacuum never analyzes
      // them: exactly the planner's view of a tenant imported a moment ago.
      for (const table of ["users", "rooms", "room_participants", "comments"]) {
        await client.query(`CREATE TEMP TABLE ${table} (LIKE public.${table} INCLUDING ALL)`);
      }
      await client.query("CREATE TEMP SEQUENCE comments_id_seq");
      await generateChatData(client, app.appId, 20_000);
      const { rows: stats } = await client.query(
        "SELECT count(*)::int AS n FROM pg_stats WHERE schemaname LIKE 'pg_temp%' AND tablename = 'comments'",
      );
      expect(stats[0].n).toBe(0);
      const midway = { createdAt: "2024-02-01T00:01:00Z", id: 1 };
      const plan = async (resource: Resource) => {
        const query = exportRowsQuery(scopeOf(app, resource), midway, 2000);
        const { rows } = await client.query(`EXPLAIN (FORMAT JSON) ${query}`);
        return JSON.stringify(rows[0]["QUERY PLAN"]);
      };

      // Costs that make every other plan look cheaper (as wrong statistics would): left to
      // itself, the planner then scans and sorts all remaining rows for every statement.
      await client.query("SET random_page_cost = 1000; SET cpu_index_tuple_cost = 10");
      expect(await plan("comments")).toMatch(/"Node Type":"(Sort|Incremental Sort)"/);

      await client.query(orderedScan.on);
      for (const resource of ["users", "rooms", "comments"] as const) {
        const shape = JSON.parse(await plan(resource))[0].Plan;
        expect(shape["Node Type"]).toBe("Limit");
        const scan = shape.Plans[0];
        expect(scan["Node Type"]).toBe("Index Scan");
        expect(scan["Relation Name"]).toBe(resource);
        expect(scan["Index Name"]).toMatch(/app_id_created_at_id/);
        expect(scan["Scan Direction"]).toBe("Forward");
      }
      // Comments need no sort anywhere: related rows are single primary-key look-ups.
      expect(await plan("comments")).not.toMatch(
        /"Node Type":"(Sort|Incremental Sort|Bitmap Heap Scan|Seq Scan|Hash Join)"/,
      );
    } finally {
      await client.query("RESET ALL; DISCARD TEMP").catch(() => undefined);
      client.release(true);
    }
  });
});
