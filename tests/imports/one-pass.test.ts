import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { chatDb } from "../../lib/chat-db/pool.ts";
import { instant } from "../../lib/imports/file-rows.ts";
import { commentsImport } from "../../lib/imports/resources/comments.ts";
import { roomsImport } from "../../lib/imports/resources/rooms.ts";
import { usersImport } from "../../lib/imports/resources/users.ts";
import { streamedWrite } from "../../lib/imports/streamed-write.ts";
import type { JobRecord, Resource } from "../../lib/jobs/job-record.ts";
import { newApp, type TestApp } from "../support/harness.ts";
import {
  comment,
  countRows,
  email,
  importOk,
  importRows,
  problemsOf,
  type Row,
  room,
  user,
} from "./support.ts";

const HASH = "$2b$04$abcdefghijklmnopqrstuuA5bWc0w2JmE3Zs3fBqWnsOGGbJrJCMi";
const SPECS = { users: usersImport, rooms: roomsImport, comments: commentsImport };
// The one-pass write sends 2,000 rows first: bigger files reach a second batch.
const FIRST_BATCH = 2_000;

/**
 * The one-pass write alone, as the pipeline calls it first: "finished" means the rows went
 * straight in (no staging), "staged" that it gave up and wrote nothing.
 */
async function onePass(app: TestApp, resource: Resource, rows: Row[], onExisting?: "skip") {
  const bytes = Buffer.from(JSON.stringify(rows));
  const now = new Date().toISOString();
  const job = {
    appId: app.appId,
    jobId: randomUUID(),
    kind: "import",
    resource,
    createdAt: now,
    size: bytes.length,
    onExisting,
    seq: 1,
  } as JobRecord;
  return streamedWrite(
    job,
    SPECS[resource],
    { appId: app.appId, importedAt: instant(now) },
    {
      open: async () => Readable.from([bytes]),
      ndjson: false,
      remainingMs: () => 600_000,
      reserveMs: 1_000,
      onBytes: () => {},
    },
  );
}

const hashed = (overrides: Row = {}) =>
  user({ Password: undefined, PasswordHash: HASH, ...overrides });

async function users(appId: string) {
  const { rows } = await chatDb().query(
    "SELECT email, authentication_token AS token, password_hash, created_at FROM users WHERE app_id = $1 ORDER BY id",
    [appId],
  );
  return rows;
}

describe("users in one pass (PasswordHash)", () => {
  it("given users with a PasswordHash over two batches, then they are copied in the file's order with their hash and time", async () => {
    const app = await newApp();
    const rows = Array.from({ length: FIRST_BATCH + 5 }, (_, i) =>
      hashed({
        Email: `u${i}.${app.appId}@example.com`,
        CreateAt: "2017-05-10T18:46:30.123456+07:00",
      }),
    );
    const outcome = await onePass(app, "users", rows);
    expect(outcome).toEqual({ status: "finished", rows: rows.length, skipped: 0 });
    const stored = await users(app.appId);
    expect(stored.map((u) => u.email)).toEqual(rows.map((r) => r.Email));
    expect(stored[0].password_hash).toBe(HASH);
    expect(stored[0].created_at).toBe("2017-05-10 11:46:30.123456+00");
  });

  it("given the same Email in another case in a later batch, or a token of the application, then nothing is written and the rows are named", async () => {
    const app = await newApp();
    const taken = hashed();
    await importOk(app, "users", [taken]);
    const rows = Array.from({ length: FIRST_BATCH + 5 }, () => hashed());
    rows.push(hashed({ Email: String(rows[3]?.Email).toUpperCase() }));
    expect((await onePass(app, "users", rows)).status).toBe("staged");
    expect(await countRows(app.appId, "users")).toBe(1);
    rows.push(hashed({ AuthenticationToken: taken.AuthenticationToken }));
    const job = await importRows(app, "users", rows);
    expect(problemsOf(job)).toEqual([
      `${FIRST_BATCH + 5}:Email`,
      `${FIRST_BATCH + 6}:AuthenticationToken`,
    ]);
    expect(await countRows(app.appId, "users")).toBe(1);
  });

  it("given a plain Password after rows with a hash, then the one pass gives up and the password is hashed", async () => {
    const app = await newApp();
    const outcome = await onePass(app, "users", [hashed(), user({ Password: "plain-one" })]);
    expect(outcome).toMatchObject({ status: "staged" });
    expect(outcome.status === "staged" && outcome.reason).toContain("plain Password");
    expect(await countRows(app.appId, "users")).toBe(0);
    await importOk(app, "users", [hashed(), user({ Password: "plain-one" })]);
    const [first, second] = await users(app.appId);
    expect(first.password_hash).toBe(HASH);
    expect(second.password_hash).toMatch(/^\$2[aby]\$/);
  });
});

describe("rooms in one pass", () => {
  async function people(app: TestApp, count: number) {
    const addresses = Array.from(
      { length: count },
      (_, i) => `Person.${i}.${app.appId}@Example.com`,
    );
    await importOk(
      app,
      "users",
      addresses.map((address) => hashed({ Email: address })),
    );
    return addresses;
  }

  it("given rooms naming users in another case, then the creator and participants are resolved, a single room is named after the stored addresses, participants keep their order", async () => {
    const app = await newApp();
    const [ann, ben, cat] = await people(app, 3);
    const lower = (address: string | undefined) => (address as string).toLowerCase();
    const rows = [
      room(lower(ben), [lower(ann), lower(ben)], { Type: "single", UniqueId: "s" }),
      room(lower(cat), [lower(cat), lower(ann), lower(ben)], { Name: "G", UniqueId: "g" }),
    ];
    expect(await onePass(app, "rooms", rows)).toEqual({ status: "finished", rows: 2, skipped: 0 });
    const { rows: stored } = await chatDb().query(
      `SELECT r.unique_id, r.name, c.email AS creator,
         ARRAY(SELECT u.email FROM room_participants p JOIN users u ON u.id = p.user_id
               WHERE p.room_id = r.id ORDER BY p.position) AS participants
       FROM rooms r JOIN users c ON c.id = r.creator_id WHERE r.app_id = $1 ORDER BY r.id`,
      [app.appId],
    );
    expect(stored).toEqual([
      { unique_id: "s", name: `${ann} ${ben}`, creator: ben, participants: [ann, ben] },
      { unique_id: "g", name: "G", creator: cat, participants: [cat, ann, ben] },
    ]);
  });

  it("given a participant or creator who is no user in a later batch, then nothing is written and the row and field are named", async () => {
    const app = await newApp();
    const [ann, ben] = await people(app, 2);
    const rows = Array.from({ length: FIRST_BATCH + 3 }, (_, i) =>
      room(ann as string, [ann as string, ben as string], { UniqueId: `r-${i}` }),
    );
    const badParticipant = room(ann as string, [ann as string, email("ghost")], {
      UniqueId: "bad-1",
    });
    const badCreator = room(email("ghost"), [ann as string], { UniqueId: "bad-2" });
    // Each alone sends the file through staging, writing nothing.
    expect((await onePass(app, "rooms", [...rows, badParticipant])).status).toBe("staged");
    expect((await onePass(app, "rooms", [...rows, badCreator])).status).toBe("staged");
    expect(await countRows(app.appId, "rooms")).toBe(0);
    rows.push(badParticipant, badCreator);
    const job = await importRows(app, "rooms", rows);
    expect(problemsOf(job)).toEqual([
      `${FIRST_BATCH + 3}:ParticipantEmails.1`,
      `${FIRST_BATCH + 4}:CreatorEmail`,
    ]);
    expect(await countRows(app.appId, "rooms")).toBe(0);
  });

  it("given on_existing skip into an application holding rooms, then same rooms are skipped and new ones written with their participants; an unknown participant names its row", async () => {
    const app = await newApp();
    const [ann, ben, cat] = (await people(app, 3)) as [string, string, string];
    const kept = room(ann, [ann, ben], { Type: "single", UniqueId: "kept" });
    await importOk(app, "rooms", [kept]);
    const fresh = room(cat, [cat, ann], { Name: "New", UniqueId: "fresh" });
    expect(await onePass(app, "rooms", [kept, fresh], "skip")).toEqual({
      status: "finished",
      rows: 1,
      skipped: 1,
    });
    const { rows: members } = await chatDb().query(
      `SELECT u.email FROM rooms r JOIN room_participants p ON p.room_id = r.id
       JOIN users u ON u.id = p.user_id WHERE r.app_id = $1 AND r.unique_id = 'fresh' ORDER BY p.position`,
      [app.appId],
    );
    expect(members.map((m) => m.email)).toEqual([cat, ann]);
    const ghost = room(ann, [ann, email("ghost")], { UniqueId: "ghostly" });
    expect((await onePass(app, "rooms", [kept, ghost], "skip")).status).toBe("staged");
    const job = await importRows(app, "rooms", [kept, ghost], { onExisting: "skip" });
    expect(problemsOf(job)).toEqual(["1:ParticipantEmails.1"]);
    expect(await countRows(app.appId, "rooms")).toBe(2);
  });
});

describe("comments in one pass", () => {
  async function ground(app: TestApp) {
    const [alice, bob] = [email("alice"), email("bob")];
    await importOk(app, "users", [hashed({ Email: alice }), hashed({ Email: bob })]);
    await importOk(app, "rooms", [
      room(alice, [alice, bob], { UniqueId: "one" }),
      room(alice, [alice, bob], { UniqueId: "two" }),
    ]);
    return { alice, bob };
  }
  const reply = (parent: string, createdAt: string) => ({
    Type: "reply",
    Payload: { text: "ya", replied_comment_id: 1 },
    ParentCommentUniqueId: parent,
    CreatedAt: createdAt,
  });

  it("given replies to rows of the same batch and to the application's comments, then each names its parent's real id", async () => {
    const app = await newApp();
    const { alice, bob } = await ground(app);
    await importOk(app, "comments", [comment(alice, "one", { UniqueId: "old" })]);
    const rows = [
      comment(bob, "one", { UniqueId: "p" }),
      comment(alice, "one", { UniqueId: "r1", ...reply("p", "2017-05-12T00:00:00Z") }),
      comment(alice, "one", { UniqueId: "r2", ...reply("old", "2017-05-12T00:00:00Z") }),
      comment(bob, "one", { UniqueId: "r3", ...reply("r1", "2017-05-12T00:00:00Z") }),
    ];
    expect(await onePass(app, "comments", rows)).toEqual({
      status: "finished",
      rows: 4,
      skipped: 0,
    });
    const { rows: stored } = await chatDb().query(
      `SELECT c.unique_id, p.unique_id AS parent, c.payload, c.parent_id FROM comments c
       LEFT JOIN comments p ON p.id = c.parent_id WHERE c.app_id = $1 ORDER BY c.id`,
      [app.appId],
    );
    expect(stored.map((c) => [c.unique_id, c.parent])).toEqual([
      ["old", null],
      ["p", null],
      ["r1", "p"],
      ["r2", "old"],
      ["r3", "r1"],
    ]);
    for (const c of stored.slice(2)) {
      expect(c.payload).toEqual({ text: "ya", replied_comment_id: Number(c.parent_id) });
    }
  });

  it("given a reply one microsecond older than its parent (in the batch or the application), then it is refused; at the same instant in another zone, accepted", async () => {
    const app = await newApp();
    const { alice } = await ground(app);
    const at = { CreatedAt: "2017-05-11T19:14:24.000002Z" };
    await importOk(app, "comments", [comment(alice, "one", { UniqueId: "stored", ...at })]);
    const early = "2017-05-11T19:14:24.000001Z";
    for (const parent of ["stored", "fresh"]) {
      const rows = [
        comment(alice, "one", { UniqueId: "fresh", ...at }),
        comment(alice, "one", { UniqueId: `late-${parent}`, ...reply(parent, early) }),
      ];
      expect((await onePass(app, "comments", rows)).status, parent).toBe("staged");
      const job = await importRows(app, "comments", rows);
      expect(problemsOf(job), parent).toEqual(["1:CreatedAt"]);
    }
    const same = "2017-05-12T02:14:24.000002+07:00";
    const rows = [
      comment(alice, "one", { UniqueId: "fresh", ...at }),
      comment(alice, "one", { UniqueId: "ok-1", ...reply("stored", same) }),
      comment(alice, "one", { UniqueId: "ok-2", ...reply("fresh", same) }),
    ];
    expect(await onePass(app, "comments", rows)).toMatchObject({ status: "finished", rows: 3 });
  });

  it("given a reply to a comment of another room, in the batch or the application, or to a later row, then nothing is written", async () => {
    const app = await newApp();
    const { alice } = await ground(app);
    await importOk(app, "comments", [comment(alice, "two", { UniqueId: "elsewhere" })]);
    const late = "2017-05-12T00:00:00Z";
    const cases: Row[][] = [
      [comment(alice, "two", { UniqueId: "p" }), comment(alice, "one", reply("p", late))],
      [comment(alice, "one", reply("elsewhere", late))],
      [comment(alice, "one", reply("later", late)), comment(alice, "one", { UniqueId: "later" })],
    ];
    for (const rows of cases) {
      expect((await onePass(app, "comments", rows)).status).toBe("staged");
      expect(problemsOf(await importRows(app, "comments", rows))).toEqual([
        expect.stringMatching(/ParentCommentUniqueId$/),
      ]);
    }
    expect(await countRows(app.appId, "comments")).toBe(1);
  });
});
