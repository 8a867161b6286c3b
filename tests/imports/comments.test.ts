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
  room,
  roomWithTwoUsers,
  user,
} from "./support.ts";

async function storedComments(appId: string) {
  const { rows } = await chatDb().query(
    `SELECT c.id, c.unique_id, c.type, c.message, c.payload, c.parent_id, c.disable_link_preview
     FROM comments c WHERE c.app_id = $1 ORDER BY c.id`,
    [appId],
  );
  return rows;
}

const reply = (parent: string, overrides = {}) => ({
  Type: "reply",
  Message: "Maaf mau tanya..",
  Payload: { text: "Maaf mau tanya..", replied_comment_id: 1 },
  ParentCommentUniqueId: parent,
  ...overrides,
});

describe("comments import", () => {
  it("given a reply to a comment earlier in the file, when imported, then its payload carries the parent's real id", async () => {
    const app = await newApp();
    const { alice, bob, roomId } = await roomWithTwoUsers(app);
    const job = await importOk(app, "comments", [
      comment(alice, roomId, { UniqueId: "p" }),
      comment(bob, roomId, { UniqueId: "r", ...reply("p") }),
    ]);
    expect(job.total_rows).toBe(2);
    const [parent, child] = await storedComments(app.appId);
    expect(child.parent_id).toBe(parent.id);
    expect(child.payload).toEqual({ text: "Maaf mau tanya..", replied_comment_id: parent.id });
    expect(parent.payload).toBeNull();
  });

  it("given a reply to a comment already in the app, when imported, then it is linked to it", async () => {
    const app = await newApp();
    const { alice, roomId } = await roomWithTwoUsers(app);
    await importOk(app, "comments", [comment(alice, roomId, { UniqueId: "old" })]);
    await importOk(app, "comments", [comment(alice, roomId, { UniqueId: "new", ...reply("old") })]);
    const [parent, child] = await storedComments(app.appId);
    expect(child.payload.replied_comment_id).toBe(parent.id);
  });

  it("given a reply whose parent comes later in the file, when imported, then the reply row fails", async () => {
    const app = await newApp();
    const { alice, roomId } = await roomWithTwoUsers(app);
    const job = await importRows(app, "comments", [
      comment(alice, roomId, { UniqueId: "r", ...reply("p") }),
      comment(alice, roomId, { UniqueId: "p" }),
    ]);
    expect(problemsOf(job)).toEqual(["0:ParentCommentUniqueId"]);
    expect(job.errors.Data[0].message).toContain("row 1");
  });

  it("given a reply to an unknown comment, when imported, then it fails on ParentCommentUniqueId", async () => {
    const app = await newApp();
    const { alice, roomId } = await roomWithTwoUsers(app);
    const job = await importRows(app, "comments", [
      comment(alice, roomId),
      comment(alice, roomId, reply("nowhere")),
    ]);
    expect(problemsOf(job)).toEqual(["1:ParentCommentUniqueId"]);
  });

  it("given a reply created before its parent, when imported, then it fails on CreatedAt", async () => {
    const app = await newApp();
    const { alice, roomId } = await roomWithTwoUsers(app);
    const job = await importRows(app, "comments", [
      comment(alice, roomId, { UniqueId: "p", CreatedAt: "2017-05-11T19:14:24.000002Z" }),
      comment(alice, roomId, { ...reply("p"), CreatedAt: "2017-05-11T19:14:24.000001Z" }),
    ]);
    expect(problemsOf(job)).toEqual(["1:CreatedAt"]);
  });

  it("given a reply to a comment of another room, when imported, then it fails", async () => {
    const app = await newApp();
    const { alice, bob, roomId } = await roomWithTwoUsers(app);
    await importOk(app, "rooms", [room(alice, [alice, bob], { UniqueId: "other-room" })]);
    const job = await importRows(app, "comments", [
      comment(alice, "other-room", { UniqueId: "p" }),
      comment(alice, roomId, reply("p")),
    ]);
    expect(problemsOf(job)).toEqual(["1:ParentCommentUniqueId"]);
  });

  it("given a reply without parent or a text with one, when imported, then both rows fail", async () => {
    const app = await newApp();
    const { alice, roomId } = await roomWithTwoUsers(app);
    const job = await importRows(app, "comments", [
      comment(alice, roomId, { UniqueId: "p" }),
      comment(alice, roomId, reply("")),
      comment(alice, roomId, { ParentCommentUniqueId: "p" }),
    ]);
    expect(problemsOf(job)).toEqual(["1:ParentCommentUniqueId", "2:ParentCommentUniqueId"]);
  });

  it("given an unknown room, when imported, then it fails on RoomUniqueId", async () => {
    const app = await newApp();
    const { alice } = await roomWithTwoUsers(app);
    const job = await importRows(app, "comments", [comment(alice, "no-such-room")]);
    expect(problemsOf(job)).toEqual(["0:RoomUniqueId"]);
  });

  it("given a creator who is no user, or no participant, when imported, then it fails on CreatorEmail", async () => {
    const app = await newApp();
    const { roomId } = await roomWithTwoUsers(app);
    const outsider = email("outsider");
    await importOk(app, "users", [user({ Email: outsider })]);
    const job = await importRows(app, "comments", [
      comment(email("ghost"), roomId),
      comment(outsider, roomId),
    ]);
    expect(problemsOf(job)).toEqual(["0:CreatorEmail", "1:CreatorEmail"]);
    expect(job.errors.Data[1].message).toContain("participant");
  });

  it("given duplicate UniqueIds in the file and in the app, when imported, then both rows fail", async () => {
    const app = await newApp();
    const { alice, roomId } = await roomWithTwoUsers(app);
    await importOk(app, "comments", [comment(alice, roomId, { UniqueId: "taken" })]);
    const job = await importRows(app, "comments", [
      comment(alice, roomId, { UniqueId: "taken" }),
      comment(alice, roomId, { UniqueId: "twice" }),
      comment(alice, roomId, { UniqueId: "twice" }),
    ]);
    expect(problemsOf(job)).toEqual(["0:UniqueId", "2:UniqueId"]);
  });

  it("given a message of 4001 characters, when imported, then it fails on Message; 4000 pass", async () => {
    const app = await newApp();
    const { alice, roomId } = await roomWithTwoUsers(app);
    const job = await importRows(app, "comments", [
      comment(alice, roomId, { Message: "é".repeat(4000) }),
      comment(alice, roomId, { Message: "a".repeat(4001) }),
    ]);
    expect(problemsOf(job)).toEqual(["1:Message"]);
  });

  it("given each type with its payload, when imported, then all are stored", async () => {
    const app = await newApp();
    const { alice, roomId } = await roomWithTwoUsers(app);
    const button = { label: "Go", type: "link", payload: { url: "https://example.com" } };
    const card = {
      image: "https://example.com/a.jpg",
      title: "Deal",
      description: "Cheap",
      url: "https://example.com",
      buttons: [button],
    };
    const payloads: Record<string, unknown> = {
      file_attachment: { url: "https://example.com/f.pdf", caption: "" },
      custom: { type: "promo", content: { code: "X" } },
      buttons: { text: "Pick", buttons: [button] },
      card,
      carousel: { cards: [card, card] },
      location: { name: "Monas", address: "Jakarta", latitude: -6.17, longitude: 106.82 },
      contact_person: { name: "Ann", value: "+62811", type: "phone" },
      account_linking: { url: "https://example.com/link", params: { button_text: "Link" } },
      button_postback_response: { url: "https://example.com", method: "get", payload: null },
      system_event: { type: "add_member", subject_email: alice },
    };
    const rows = Object.entries(payloads).map(([Type, Payload]) =>
      comment(alice, roomId, { Type, Payload }),
    );
    await importOk(app, "comments", rows);
    const stored = await storedComments(app.appId);
    expect(stored.map((row) => row.type)).toEqual(Object.keys(payloads));
    expect(stored[1].payload).toEqual(payloads.custom);
  });

  it("given payloads that break their type's schema, when imported, then each row names the payload field", async () => {
    const app = await newApp();
    const { alice, roomId } = await roomWithTwoUsers(app);
    const job = await importRows(app, "comments", [
      comment(alice, roomId, { Payload: { text: "no payload for text" } }),
      comment(alice, roomId, { Type: "reply", ParentCommentUniqueId: "x", Payload: { text: "a" } }),
      comment(alice, roomId, {
        Type: "location",
        Payload: { name: "a", address: "b", latitude: 100, longitude: 0 },
      }),
      comment(alice, roomId, { Type: "file_attachment", Payload: { url: "not a url" } }),
      comment(alice, roomId, { Type: "sticker" }),
    ]);
    expect(problemsOf(job)).toEqual([
      "0:Payload",
      "1:Payload.replied_comment_id",
      "2:Payload.latitude",
      "3:Payload.url",
      "4:Type",
    ]);
    expect(await countRows(app.appId, "comments")).toBe(0);
  });
});
