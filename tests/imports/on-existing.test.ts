import { describe, expect, it } from "vitest";
import { chatDb } from "../../lib/chat-db/pool.ts";
import { call, newApp } from "../support/harness.ts";
import {
  comment,
  countRows,
  email,
  importOk,
  importRows,
  postImport,
  problemsOf,
  type Row,
  room,
  roomWithTwoUsers,
  user,
} from "./support.ts";

const HASH = "$2b$04$abcdefghijklmnopqrstuuA5bWc0w2JmE3Zs3fBqWnsOGGbJrJCMi";
const skip = { onExisting: "skip" };

// The one-pass comment write sends 2,000 rows first: bigger files reach a second batch.
const FIRST_BATCH = 2_000;

describe('POST /imports with "on_existing"', () => {
  it("given a value other than fail or skip, in a form or a JSON start, then 400 and no job", async () => {
    const app = await newApp();
    const form = await postImport(app, "users", "[]", { onExisting: "overwrite" });
    expect(form.status).toBe(400);
    expect(form.body.error.detailed_messages.join(" ")).toContain("fail, skip");
    const json = await call("POST", "/api/v2.1/rest/imports", {
      app,
      json: {
        type: "users",
        upload_id: "6f0c1f5e-8b1a-4c59-9a53-8f0f0e4b7d11",
        on_existing: "replace",
      },
    });
    expect(json.status).toBe(400);
    const list = await call("GET", "/api/v2.1/rest/imports", { app });
    expect(list.body.results.backup_histories).toEqual([]);
  });

  it("given no on_existing, when a row is already there, then the seed's behaviour: a row error", async () => {
    const app = await newApp();
    const alice = user({ PasswordHash: HASH, Password: undefined });
    const first = await importOk(app, "users", [alice]);
    expect(first).toMatchObject({ on_existing: "fail", skipped_rows: 0, total_rows: 1 });
    const again = await importRows(app, "users", [alice]);
    expect(again.status).toBe("failed");
    expect(problemsOf(again)).toEqual(["0:Email", "0:AuthenticationToken"]);
    expect(again.errors.Data[0].message).toBe(
      "a user with this Email already exists in this application",
    );
  });
});

describe("on_existing skip: users", () => {
  it("given users already there as they are, when imported again, then each is skipped and counted, new ones written", async () => {
    const app = await newApp();
    const [a, b] = [user({ PasswordHash: HASH, Password: undefined }), user({ Password: "pw" })];
    await importOk(app, "users", [a, b]);
    const fresh = user({ PasswordHash: HASH, Password: undefined });
    // The plain Password of b is not compared (docs/restores.md): b is the same user.
    const job = await importRows(app, "users", [a, fresh, b], skip);
    expect(job.status, JSON.stringify(job.errors)).toBe("finished");
    expect(job).toMatchObject({ total_rows: 1, skipped_rows: 2, on_existing: "skip" });
    expect(await countRows(app.appId, "users")).toBe(3);
    const listed = await call("GET", "/api/v2.1/rest/imports", { app });
    expect(listed.body.results.backup_histories[0]).toMatchObject({ skipped_rows: 2 });
  });

  it("given a user whose Email or token is taken by other content, then a row error that names what differs, and nothing is written", async () => {
    const app = await newApp();
    const a = user({ PasswordHash: HASH, Password: undefined });
    const b = user({ PasswordHash: HASH, Password: undefined });
    const c = user({ PasswordHash: HASH, Password: undefined });
    await importOk(app, "users", [a, b, c]);
    const rows = [
      { ...a, Name: "Someone Else", CreateAt: "2020-01-01T00:00:00Z" },
      user({ AuthenticationToken: b.AuthenticationToken, PasswordHash: HASH, Password: undefined }),
      { ...c, Email: (c.Email as string).toUpperCase() },
      user({ PasswordHash: HASH, Password: undefined }),
    ];
    const job = await importRows(app, "users", rows, skip);
    expect(job.status).toBe("failed");
    expect(problemsOf(job)).toEqual([
      "0:Email",
      "0:AuthenticationToken",
      "1:AuthenticationToken",
      "2:Email",
      "2:AuthenticationToken",
    ]);
    const messages = job.errors.Data.map((problem: { message: string }) => problem.message);
    expect(messages[0]).toBe(
      "a user with this Email already exists in this application with other content (Name, CreateAt differ)",
    );
    expect(messages[2]).toBe(
      "a user with this AuthenticationToken already exists in this application with other content (Email differs)",
    );
    expect(messages[3]).toContain("(Email differs)");
    expect(await countRows(app.appId, "users")).toBe(3);
  });

  it("given a PasswordHash other than the stored one, then a row error naming PasswordHash", async () => {
    const app = await newApp();
    const a = user({ PasswordHash: HASH, Password: undefined });
    await importOk(app, "users", [a]);
    const job = await importRows(
      app,
      "users",
      [{ ...a, PasswordHash: `${HASH.slice(0, -1)}x` }],
      skip,
    );
    expect(job.status).toBe("failed");
    expect(job.errors.Data[0].message).toContain("(PasswordHash differs)");
  });

  it("given a dry run, then it counts what would be written and skipped and writes nothing", async () => {
    const app = await newApp();
    const a = user({ PasswordHash: HASH, Password: undefined });
    await importOk(app, "users", [a]);
    const job = await importRows(app, "users", [a, user({ Password: "secret" })], {
      ...skip,
      dryRun: true,
    });
    expect(job).toMatchObject({
      status: "finished",
      dry_run: true,
      total_rows: 1,
      skipped_rows: 1,
    });
    expect(await countRows(app.appId, "users")).toBe(1);
  });
});

describe("on_existing skip: rooms", () => {
  it("given rooms already there, then skipped; other participants or name are a row error", async () => {
    const app = await newApp();
    const [ann, ben, cat] = [email("ann"), email("ben"), email("cat")];
    await importOk(app, "users", [
      user({ Email: ann }),
      user({ Email: ben }),
      user({ Email: cat }),
    ]);
    const single = room(ann, [ann, ben], { Type: "single", Name: "", UniqueId: "s1" });
    const group = room(ben, [ben, cat], { Name: "Team", Options: '{"a":1}', UniqueId: "g1" });
    await importOk(app, "rooms", [single, group]);

    const same = await importRows(app, "rooms", [single, group, room(cat, [cat])], skip);
    expect(same).toMatchObject({ status: "finished", total_rows: 1, skipped_rows: 2 });

    const changed = await importRows(
      app,
      "rooms",
      [
        { ...group, ParticipantEmails: [ben, cat, ann] },
        { ...single, CreatedAt: "2018-01-01T00:00:00Z" },
        { ...group, UniqueId: "g2", Name: "Other" },
      ],
      skip,
    );
    expect(changed.status).toBe("failed");
    expect(problemsOf(changed)).toEqual(["0:UniqueId", "1:UniqueId"]);
    expect(changed.errors.Data[0].message).toBe(
      "a room with this UniqueId already exists in this application with other content (ParticipantEmails differs)",
    );
    expect(changed.errors.Data[1].message).toContain("(CreatedAt differs)");
    expect(await countRows(app.appId, "rooms")).toBe(3);
  });
});

describe("on_existing skip: comments", () => {
  it("given a reply already there, then skipped whatever replied_comment_id the file carries; another parent is a row error", async () => {
    const app = await newApp();
    const { alice, bob, roomId } = await roomWithTwoUsers(app);
    const parent = comment(alice, roomId, { UniqueId: "p1" });
    const other = comment(bob, roomId, { UniqueId: "p2" });
    const reply = comment(bob, roomId, {
      UniqueId: "r1",
      Type: "reply",
      Payload: { text: "yes", replied_comment_id: 1 },
      ParentCommentUniqueId: "p1",
      CreatedAt: "2017-05-12T00:00:00Z",
    });
    await importOk(app, "comments", [parent, other, reply]);
    const { rows } = await chatDb().query(
      "SELECT parent_id FROM comments WHERE app_id = $1 AND unique_id = 'r1'",
      [app.appId],
    );
    const again = { ...reply, Payload: { text: "yes", replied_comment_id: 987654 } };
    const job = await importRows(app, "comments", [parent, again], skip);
    expect(job).toMatchObject({ status: "finished", total_rows: 0, skipped_rows: 2 });
    expect(Number(rows[0].parent_id)).toBeGreaterThan(0);

    const moved = await importRows(
      app,
      "comments",
      [
        { ...reply, ParentCommentUniqueId: "p2" },
        { ...other, Message: "edited", Payload: null },
        { ...reply, UniqueId: "r2", Payload: { text: "new", replied_comment_id: 1 } },
      ],
      skip,
    );
    expect(moved.status).toBe("failed");
    expect(problemsOf(moved)).toEqual(["0:UniqueId", "1:UniqueId"]);
    expect(moved.errors.Data[0].message).toContain("(ParentCommentUniqueId differs)");
    expect(moved.errors.Data[1].message).toContain("(Message differs)");
    expect(await countRows(app.appId, "comments")).toBe(3);
  });

  it("given a file of several batches, half already there, when imported in one pass, then the rest is written and a reply finds a skipped parent", async () => {
    const app = await newApp();
    const { alice, roomId } = await roomWithTwoUsers(app);
    const rows: Row[] = Array.from({ length: FIRST_BATCH + 500 }, (_, i) =>
      comment(alice, roomId, { UniqueId: `m-${i}`, CreatedAt: "2017-05-11T19:14:24Z" }),
    );
    const half = rows.filter((_, i) => i % 2 === 0);
    await importOk(app, "comments", half);
    rows.push(
      comment(alice, roomId, {
        UniqueId: "late-reply",
        Type: "reply",
        Payload: { text: "to an old one", replied_comment_id: 1 },
        ParentCommentUniqueId: "m-2",
        CreatedAt: "2017-05-12T00:00:00Z",
      }),
    );
    const job = await importRows(app, "comments", rows, skip);
    expect(job.status, JSON.stringify(job.errors)).toBe("finished");
    expect(job.skipped_rows).toBe(half.length);
    expect(job.total_rows).toBe(rows.length - half.length);
    expect(await countRows(app.appId, "comments")).toBe(rows.length);
    const { rows: linked } = await chatDb().query(
      `SELECT p.unique_id FROM comments c JOIN comments p ON p.id = c.parent_id
       WHERE c.app_id = $1 AND c.unique_id = 'late-reply'`,
      [app.appId],
    );
    expect(linked[0]?.unique_id).toBe("m-2");

    const twice = await importRows(app, "comments", rows, skip);
    expect(twice).toMatchObject({ status: "finished", total_rows: 0, skipped_rows: rows.length });
  });

  it("given a comment of a later batch taken by other content, then the whole file is refused with that row listed", async () => {
    const app = await newApp();
    const { alice, roomId } = await roomWithTwoUsers(app);
    await importOk(app, "comments", [comment(alice, roomId, { UniqueId: "taken" })]);
    const rows: Row[] = Array.from({ length: FIRST_BATCH + 10 }, (_, i) =>
      comment(alice, roomId, { UniqueId: `n-${i}` }),
    );
    rows.push(comment(alice, roomId, { UniqueId: "taken", Message: "not the same" }));
    const job = await importRows(app, "comments", rows, skip);
    expect(job.status).toBe("failed");
    expect(problemsOf(job)).toEqual([`${FIRST_BATCH + 10}:UniqueId`]);
    expect(job.errors.Data[0].message).toContain("(Message differs)");
    expect(await countRows(app.appId, "comments")).toBe(1);
  });
});
