import { describe, expect, it } from "vitest";
import { deliverExport, download, requestExport } from "../exports/export-fixtures.ts";
import { newApp, type TestApp } from "../support/harness.ts";
import { comment, email, importOk, room, user } from "./support.ts";

type Row = Record<string, unknown>;

async function exportFile(app: TestApp, type: string): Promise<Row[]> {
  const id = await requestExport(app, { type });
  await deliverExport(id);
  return JSON.parse((await download(app, id)).toString("utf8")) as Row[];
}

/** Database ids differ between applications: a reply's payload names its parent by id. */
function withoutIds(rows: Row[]): Row[] {
  return rows.map((row) =>
    row.Type === "reply"
      ? { ...row, Payload: { ...(row.Payload as Row), replied_comment_id: "<id>" } }
      : row,
  );
}

describe("round trip", () => {
  it("given imported data, when exported, imported into a second app and exported again, then the files are equal but for ids", async () => {
    const [first, second] = [await newApp(), await newApp()];
    const [ann, ben, cat] = [email("Ann"), email("ben"), email("cat")];
    await importOk(first, "users", [
      user({ Email: ann, Name: "Ann Ängström", CreateAt: "2017-05-10T11:46:30.123456+07:00" }),
      user({ Email: ben, CreateAt: "2017-05-10T11:46:31Z" }),
      user({ Email: cat, AvatarUrl: "", CreateAt: "2017-05-10T11:46:31Z" }),
    ]);
    await importOk(first, "rooms", [
      room(ann, [ann, ben], { Type: "single", UniqueId: "single" }),
      room(ben, [ben, cat, ann], { Name: "Family", Options: '{"x":1}', UniqueId: "family" }),
    ]);
    await importOk(first, "comments", [
      comment(ann, "single", { UniqueId: "c1", CreatedAt: "2017-05-11T19:14:24Z" }),
      comment(ben, "single", {
        UniqueId: "c2",
        Type: "reply",
        Payload: { text: "answer", replied_comment_id: 1 },
        ParentCommentUniqueId: "c1",
        CreatedAt: "2017-05-11T19:14:24Z",
      }),
      comment(cat, "family", {
        UniqueId: "c3",
        Type: "custom",
        Payload: { type: "promo", content: { code: "X", amount: 2.5 } },
        CreatedAt: "2017-05-11T19:14:23.5Z",
      }),
    ]);
    await importOk(first, "comments", [
      comment(ann, "single", {
        UniqueId: "c4",
        Type: "reply",
        Payload: { text: "later", replied_comment_id: 1 },
        ParentCommentUniqueId: "c2",
        CreatedAt: "2017-05-12T00:00:00Z",
      }),
    ]);

    const exported: Record<string, Row[]> = {};
    for (const type of ["users", "rooms", "comments"]) {
      exported[type] = await exportFile(first, type);
      await importOk(second, type as "users", exported[type]);
    }
    const comments = exported.comments as Row[];
    expect(comments.map((row) => row.UniqueId)).toEqual(["c3", "c1", "c2", "c4"]);
    expect(comments[2]).toMatchObject({ ParentCommentUniqueId: "c1", Type: "reply" });
    expect((exported.rooms as Row[])[0]?.Name).toBe(`${ann} ${ben}`);

    for (const type of ["users", "rooms", "comments"]) {
      const again = await exportFile(second, type);
      expect(withoutIds(again), type).toEqual(withoutIds(exported[type] as Row[]));
    }
  });
});
