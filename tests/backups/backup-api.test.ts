import { describe, expect, it } from "vitest";
import {
  insertComment,
  insertManyComments,
  insertRoom,
  insertUser,
} from "../exports/export-fixtures.ts";
import { newApp } from "../support/harness.ts";
import {
  deliverBackup,
  fetchBytes,
  getBackup,
  requestBackup,
  rowsOf,
  sha256,
} from "./backup-fixtures.ts";

describe("backups over HTTP", () => {
  it("given an application with users, rooms and comments, when a backup runs, then its three files and manifest hold them with matching checksums", async () => {
    const app = await newApp();
    const alice = await insertUser(app, {
      email: "alice@example.com",
      createdAt: "2017-03-01T00:00:00Z",
    });
    const bob = await insertUser(app, {
      email: "bob@example.com",
      createdAt: "2030-01-01T00:00:00Z",
    });
    const room = await insertRoom(app, {
      creatorId: alice,
      participantIds: [alice, bob],
      uniqueId: "room-1",
      type: "group",
    });
    const parent = await insertComment(app, {
      roomId: room,
      userId: alice,
      uniqueId: "c-1",
      createdAt: "2017-03-02T00:00:00Z",
    });
    await insertComment(app, {
      roomId: room,
      userId: bob,
      uniqueId: "c-2",
      type: "reply",
      parentId: parent,
      payload: { text: "re", replied_comment_id: parent },
    });

    const id = await requestBackup(app);
    expect(await deliverBackup(id)).toBe(1);

    const backup = await getBackup(app, id);
    expect(backup).toMatchObject({ status: "finished", percentage: 100, trigger: "api" });
    expect(backup.cut_at).not.toBe("");
    const users = await fetchBytes(backup.files.users.download_url);
    const rooms = await fetchBytes(backup.files.rooms.download_url);
    const comments = await fetchBytes(backup.files.comments.download_url);
    expect(rowsOf(users).map((u) => u.Email)).toEqual(["alice@example.com", "bob@example.com"]);
    expect(rowsOf(rooms)).toMatchObject([
      { UniqueId: "room-1", ParticipantEmails: ["alice@example.com", "bob@example.com"] },
    ]);
    expect(rowsOf(comments)).toMatchObject([
      { UniqueId: "c-1" },
      { UniqueId: "c-2", ParentCommentUniqueId: "c-1" },
    ]);
    expect(backup.files.users).toMatchObject({
      rows: 2,
      bytes: users.length,
      sha256: sha256(users),
    });
    expect(backup.files.comments).toMatchObject({
      rows: 2,
      bytes: comments.length,
      sha256: sha256(comments),
    });
    expect(backup.size).toBe(users.length + rooms.length + comments.length);
    const manifestBytes = await fetchBytes(backup.files.manifest.download_url);
    expect(sha256(manifestBytes)).toBe(backup.manifest_sha256);
    const manifest = JSON.parse(manifestBytes.toString("utf8"));
    expect(manifest).toMatchObject({
      format: "chat-backup/1",
      app_id: app.appId,
      files: {
        users: { file: "users.json", rows: 2, bytes: users.length, sha256: sha256(users) },
        rooms: { file: "rooms.json", rows: 1, bytes: rooms.length, sha256: sha256(rooms) },
        comments: {
          file: "comments.json",
          rows: 2,
          bytes: comments.length,
          sha256: sha256(comments),
        },
      },
    });
  });
  it("given more comments than one look-up of names waits for, when a backup runs in one statement, then it finishes with every comment named", async () => {
    const app = await newApp();
    // More rows than wait for one batched look-up of names while their COPY still streams.
    const { userId } = await insertManyComments(app, 4500);
    const id = await requestBackup(app);
    expect(await deliverBackup(id)).toBe(1);

    const backup = await getBackup(app, id);
    expect(backup).toMatchObject({ status: "finished", percentage: 100 });
    const comments = rowsOf(await fetchBytes(backup.files.comments.download_url));
    expect(comments).toHaveLength(4500);
    const users = rowsOf(await fetchBytes(backup.files.users.download_url));
    expect(users).toHaveLength(1);
    expect(new Set(comments.map((c) => c.CreatorEmail))).toEqual(new Set([users[0]?.Email]));
    expect(userId).toBeGreaterThan(0);
  }, 60_000);
});
