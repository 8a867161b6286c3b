import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { settleHostile, uploadImport } from "../imports/hostile.ts";
import { comment, countRows, postImport, roomWithTwoUsers } from "../imports/support.ts";
import { newApp, type TestApp } from "../support/harness.ts";

/** JSON text of a string holding `inner` (already escaped JSON string content) between words. */
function jsonString(before: string, inner: string, after: string): string {
  return `"${JSON.stringify(before).slice(1, -1)}${inner}${JSON.stringify(after).slice(1, -1)}"`;
}

const word = fc.string({ maxLength: 12 });

/** A string value the chat database must never receive: NUL or a lone surrogate, anywhere. */
const hostileString = fc
  .tuple(word, fc.constantFrom("\\u0000", "\\ud800", "\\udfff", "\\ud83d", "\\u0000\\u0000"), word)
  .map(([before, inner, after]) => jsonString(before, inner, after));

/** A time PostgreSQL cannot store as written. */
const hostileTime = fc.constantFrom(
  '"0000-01-01T00:00:00Z"',
  '"9999-12-31T23:30:00-05:00"',
  '"0000-06-15T12:00:00+00:00"',
  '"9999-12-31T23:59:59-00:01"',
);

/** A number a double does not hold exactly. */
const hostileNumber = fc.oneof(
  fc.bigInt({ min: 2n ** 53n + 1n, max: 10n ** 40n }).map((n) => `${n}`),
  fc.constantFrom("1e400", "-1e400", "0.12345678901234567890123", "1e-400"),
);

/** A payload nested deeper than the limit. */
const deepValue = fc
  .integer({ min: 33, max: 4000 })
  .map((depth) => `${"[".repeat(depth)}${"]".repeat(depth)}`);

/** One hostile row of a comments file, as JSON text: one field replaced by a hostile value. */
function hostileRow(alice: string, roomId: string): fc.Arbitrary<string> {
  const payload = (content: fc.Arbitrary<string>) =>
    content.map((value) => ({ Type: '"custom"', Payload: `{"type":"x","content":${value}}` }));
  const changes = fc.oneof(
    hostileString.map((value) => ({ Message: value })),
    hostileString.map((value) => ({ UniqueId: value })),
    hostileTime.map((value) => ({ CreatedAt: value })),
    payload(hostileString),
    payload(hostileString.map((key) => `{${key}:1}`)),
    payload(hostileNumber),
    payload(hostileNumber.map((n) => `{"a":[1,{"b":${n}}]}`)),
    payload(deepValue),
    fc.constant({ Type: '"custom"', Payload: `{"type":"x","content":"${"a".repeat(1_100_000)}"}` }),
  );
  return changes.map((change) => {
    const placeholders = Object.fromEntries(Object.keys(change).map((key) => [key, `@@${key}@@`]));
    let text = JSON.stringify(comment(alice, roomId, placeholders));
    for (const [key, value] of Object.entries(change)) text = text.replace(`"@@${key}@@"`, value);
    return text;
  });
}

/** How the file reaches the service, and in what form. */
const delivery = fc.record({
  path: fc.constantFrom("form", "form", "upload"),
  gzip: fc.boolean(),
  ndjson: fc.boolean(),
  // cut the file short at some byte, or mangle one byte
  damage: fc.oneof(
    fc.constant(undefined),
    fc.record({ kind: fc.constantFrom("cut", "byte"), at: fc.double({ min: 0.05, max: 0.95 }) }),
  ),
});

describe("generated hostile import files through the real workers", () => {
  let app: TestApp;
  let alice: string;
  let roomId: string;
  beforeAll(async () => {
    app = await newApp();
    ({ alice, roomId } = await roomWithTwoUsers(app));
  });

  it("given files each holding at least one hostile row, then every job ends failed within seconds, nothing written, nothing left in PostgreSQL", async () => {
    const endings: number[] = [];
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 0, max: 3 }),
        hostileRow(alice, roomId),
        delivery,
        async (goodBefore, goodAfter, hostile, how) => {
          const good = () => JSON.stringify(comment(alice, roomId));
          const rows = [
            ...Array.from({ length: goodBefore }, good),
            hostile,
            ...Array.from({ length: goodAfter }, good),
          ];
          const ndjson = how.path === "upload" && how.ndjson;
          let bytes = Buffer.from(ndjson ? `${rows.join("\n")}\n` : `[${rows.join(",")}]`);
          if (how.damage) {
            const at = Math.floor(bytes.length * how.damage.at);
            if (how.damage.kind === "cut") bytes = bytes.subarray(0, at);
            else bytes[at] = 0xff;
          }
          const file = how.gzip ? gzipSync(bytes) : bytes;
          let jobId: string;
          if (how.path === "upload") jobId = await uploadImport(app, "comments", file);
          else {
            const posted = await postImport(app, "comments", file);
            // A file above the form's 4 MiB is refused before any job.
            if (posted.status === 413) return;
            expect(posted.status).toBe(200);
            jobId = posted.body.results.backup_history.unique_id;
          }
          const { job, elapsedMs } = await settleHostile(app, jobId);
          endings.push(elapsedMs);
          expect(job.status).toBe("failed");
          expect(await countRows(app.appId, "comments")).toBe(0);
        },
      ),
      { numRuns: 40, seed: Number(process.env.FUZZ_SEED ?? 20261204) },
    );
    expect(endings.length).toBeGreaterThan(30);
  }, 300000);
});
