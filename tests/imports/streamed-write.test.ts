import { describe, expect, it } from "vitest";
import { chatDb } from "../../lib/chat-db/pool.ts";
import { newApp } from "../support/harness.ts";
import {
  comment,
  countRows,
  email,
  importOk,
  importRows,
  problemsOf,
  type Row,
  roomWithTwoUsers,
  user,
} from "./support.ts";

// A comments file is written in batches while it streams; the first batch holds 2,000 rows, so
// these files reach a second batch, whose rows refer to (or collide with) rows already written.
const FIRST_BATCH = 2_000;

function manyComments(alice: string, roomId: string, count: number): Row[] {
  return Array.from({ length: count }, (_, i) =>
    comment(alice, roomId, { UniqueId: `m-${i}`, CreatedAt: "2017-05-11T19:14:24Z" }),
  );
}

const reply = (parent: string) => ({
  Type: "reply",
  Payload: { text: "ya", replied_comment_id: 1 },
  ParentCommentUniqueId: parent,
  CreatedAt: "2017-05-12T00:00:00Z",
});

describe("comments written while the file streams", () => {
  it("given a reply in a later batch than its parent, when imported, then it is linked to the parent's real id", async () => {
    const app = await newApp();
    const { alice, roomId } = await roomWithTwoUsers(app);
    const rows = manyComments(alice, roomId, FIRST_BATCH + 100);
    rows.push(comment(alice, roomId, { UniqueId: "late-reply", ...reply("m-0") }));
    const job = await importOk(app, "comments", rows);
    expect(job.total_rows).toBe(FIRST_BATCH + 101);
    const { rows: stored } = await chatDb().query(
      `SELECT c.unique_id, c.parent_id, c.payload, p.unique_id AS parent
       FROM comments c LEFT JOIN comments p ON p.id = c.parent_id
       WHERE c.app_id = $1 AND c.unique_id IN ('m-0', 'late-reply') ORDER BY c.id`,
      [app.appId],
    );
    expect(stored[1].parent).toBe("m-0");
    expect(stored[1].payload.replied_comment_id).toBe(stored[1].parent_id);
    // Ids follow the file's order across batches.
    const { rows: order } = await chatDb().query(
      "SELECT unique_id FROM comments WHERE app_id = $1 ORDER BY id",
      [app.appId],
    );
    expect(order.map((row) => row.unique_id)).toEqual(rows.map((row) => row.UniqueId));
  });

  it("given a UniqueId repeated in a later batch, when imported, then nothing is written and the repeat is listed", async () => {
    const app = await newApp();
    const { alice, roomId } = await roomWithTwoUsers(app);
    const rows = manyComments(alice, roomId, FIRST_BATCH + 100);
    rows.push(comment(alice, roomId, { UniqueId: "m-10" }));
    const job = await importRows(app, "comments", rows);
    expect(job.status).toBe("failed");
    expect(problemsOf(job)).toEqual([`${FIRST_BATCH + 100}:UniqueId`]);
    expect(job.errors.Data[0].message).toBe("UniqueId is already used by row 10 of this file");
    expect(await countRows(app.appId, "comments")).toBe(0);
  });

  it("given rules broken only in a later batch (no participant, parent later in the file), when imported, then nothing is written and each row is listed", async () => {
    const app = await newApp();
    const { alice, bob, roomId } = await roomWithTwoUsers(app);
    const outsider = email("outsider");
    await importOk(app, "users", [user({ Email: outsider })]);
    const rows = manyComments(bob, roomId, FIRST_BATCH + 10);
    const last = rows.length;
    rows.push(
      comment(outsider, roomId),
      comment(alice, roomId, reply("comes-later")),
      comment(alice, roomId, { UniqueId: "comes-later" }),
    );
    const job = await importRows(app, "comments", rows);
    expect(job.status).toBe("failed");
    expect(problemsOf(job)).toEqual([`${last}:CreatorEmail`, `${last + 1}:ParentCommentUniqueId`]);
    expect(job.errors.Data[1].message).toContain(`row ${last + 2}`);
    expect(await countRows(app.appId, "comments")).toBe(0);
  });
});
