import { describe, expect, it } from "vitest";
import { chatDb } from "../../lib/chat-db/pool.ts";
import { newApp, type TestApp } from "../support/harness.ts";
import {
  deliverExport,
  download,
  getExport,
  insertComment,
  insertRoom,
  insertUser,
  requestExport,
} from "./export-fixtures.ts";

/** Requests an export, lets the export queue deliver it, and returns the downloaded rows. */
async function exportRows(app: TestApp, body: Record<string, string>) {
  const id = await requestExport(app, body);
  expect(await deliverExport(id)).toEqual([]);
  const bytes = await download(app, id);
  const text = bytes.toString("utf8");
  return { id, text, rows: JSON.parse(text) as Record<string, unknown>[] };
}

/** The file the spec describes for these rows: a JSON array, one compact row per line. */
function fileOf(rows: unknown[]): string {
  return rows.length === 0
    ? "[]\n"
    : `[\n${rows.map((row) => JSON.stringify(row)).join(",\n")}\n]\n`;
}

describe("export file content", () => {
  it("given users, when exporting users, then each row carries the import keys in order with the stored password hash", async () => {
    const app = await newApp();
    await insertUser(app, {
      email: "Alice@Example.com",
      name: "Alice",
      avatarUrl: "https://placehold.it/20x20",
      token: "token-alice",
      passwordHash: "$2b$10$abcdefghijklmnopqrstuuQ1Zz7sGmJxYh0b1Yp5nD0yqK9V8fQ2m",
      createdAt: "2017-05-10T11:46:30Z",
    });
    await insertUser(app, {
      email: "bob@example.com",
      name: "Bob",
      token: "token-bob",
      passwordHash: "$2b$10$bbbbbbbbbbbbbbbbbbbbbu9Zz7sGmJxYh0b1Yp5nD0yqK9V8fQ2m",
      createdAt: "2017-05-10T11:46:30.123456Z",
    });

    const { text } = await exportRows(app, { type: "users" });

    expect(text).toBe(
      fileOf([
        {
          Email: "Alice@Example.com",
          Name: "Alice",
          AvatarUrl: "https://placehold.it/20x20",
          AuthenticationToken: "token-alice",
          PasswordHash: "$2b$10$abcdefghijklmnopqrstuuQ1Zz7sGmJxYh0b1Yp5nD0yqK9V8fQ2m",
          CreateAt: "2017-05-10T11:46:30Z",
        },
        {
          Email: "bob@example.com",
          Name: "Bob",
          AvatarUrl: "",
          AuthenticationToken: "token-bob",
          PasswordHash: "$2b$10$bbbbbbbbbbbbbbbbbbbbbu9Zz7sGmJxYh0b1Yp5nD0yqK9V8fQ2m",
          CreateAt: "2017-05-10T11:46:30.123456Z",
        },
      ]),
    );
  });

  it("given single and group rooms, when exporting rooms, then participants come in their stored order", async () => {
    const app = await newApp();
    const ana = await insertUser(app, { email: "ana@example.com" });
    const ben = await insertUser(app, { email: "ben@example.com" });
    const cho = await insertUser(app, { email: "cho@example.com" });
    await insertRoom(app, {
      uniqueId: "f82e5262-e9c4-4b7b-867a-ea890ba64f43",
      name: "ben@example.com ana@example.com",
      type: "single",
      creatorId: ben,
      participantIds: [ben, ana],
      createdAt: "2017-05-11T06:35:27Z",
    });
    await insertRoom(app, {
      uniqueId: "group-1",
      name: "Qiscus Family Super",
      type: "group",
      options: '{"color":"blue"}',
      avatarUrl: "https://example.com/a.png",
      creatorId: ana,
      participantIds: [cho, ana, ben],
      createdAt: "2017-05-11T06:35:28Z",
    });

    const { text } = await exportRows(app, { type: "rooms" });

    expect(text).toBe(
      fileOf([
        {
          Name: "ben@example.com ana@example.com",
          Type: "single",
          Options: "",
          CreatorEmail: "ben@example.com",
          CreatedAt: "2017-05-11T06:35:27Z",
          AvatarUrl: "",
          UniqueId: "f82e5262-e9c4-4b7b-867a-ea890ba64f43",
          ParticipantEmails: ["ben@example.com", "ana@example.com"],
        },
        {
          Name: "Qiscus Family Super",
          Type: "group",
          Options: '{"color":"blue"}',
          CreatorEmail: "ana@example.com",
          CreatedAt: "2017-05-11T06:35:28Z",
          AvatarUrl: "https://example.com/a.png",
          UniqueId: "group-1",
          ParticipantEmails: ["cho@example.com", "ana@example.com", "ben@example.com"],
        },
      ]),
    );
  });

  it("given text, reply and custom comments, when exporting comments, then payloads are kept and a reply names its parent after it", async () => {
    const app = await newApp();
    const doc = await insertUser(app, { email: "doc@example.com" });
    const room = await insertRoom(app, {
      uniqueId: "room-1",
      creatorId: doc,
      participantIds: [doc],
    });
    const parent = await insertComment(app, {
      roomId: room,
      userId: doc,
      uniqueId: "android_1",
      message: "Halo doc",
      createdAt: "2017-05-11T19:14:24Z",
    });
    // Same creation time as its parent: the larger id keeps the reply after it.
    await insertComment(app, {
      roomId: room,
      userId: doc,
      uniqueId: "android_2",
      type: "reply",
      message: "Maaf mau tanya..",
      payload: { text: "Maaf mau tanya..", replied_comment_id: parent },
      parentId: parent,
      createdAt: "2017-05-11T19:14:24Z",
    });
    await insertComment(app, {
      roomId: room,
      userId: doc,
      uniqueId: "android_3",
      type: "custom",
      message: "a card",
      payload: { type: "promo", content: { title: "50% off", "2": [1, 2] } },
      disableLinkPreview: true,
      createdAt: "2017-05-11T19:14:25.5Z",
    });

    const { text, rows } = await exportRows(app, { type: "comments" });

    expect(rows.map((row) => row.UniqueId)).toEqual(["android_1", "android_2", "android_3"]);
    expect(text).toBe(
      fileOf([
        {
          Message: "Halo doc",
          DisableLinkPreview: false,
          Type: "text",
          UniqueId: "android_1",
          CreatorEmail: "doc@example.com",
          RoomUniqueId: "room-1",
          CreatedAt: "2017-05-11T19:14:24Z",
          Payload: null,
          ParentCommentUniqueId: "",
        },
        {
          Message: "Maaf mau tanya..",
          DisableLinkPreview: false,
          Type: "reply",
          UniqueId: "android_2",
          CreatorEmail: "doc@example.com",
          RoomUniqueId: "room-1",
          CreatedAt: "2017-05-11T19:14:24Z",
          Payload: { text: "Maaf mau tanya..", replied_comment_id: parent },
          ParentCommentUniqueId: "android_1",
        },
        {
          Message: "a card",
          DisableLinkPreview: true,
          Type: "custom",
          UniqueId: "android_3",
          CreatorEmail: "doc@example.com",
          RoomUniqueId: "room-1",
          CreatedAt: "2017-05-11T19:14:25.500000Z",
          Payload: rows[2]?.Payload,
          ParentCommentUniqueId: "",
        },
      ]),
    );
    expect(rows[2]?.Payload).toEqual({ type: "promo", content: { title: "50% off", "2": [1, 2] } });
  });

  it("given no rows, when exporting, then the file is an empty JSON array and the job finishes with 0 rows", async () => {
    const app = await newApp();
    const { id, text } = await exportRows(app, { type: "comments" });
    expect(text).toBe("[]\n");
    const record = await getExport(app, id);
    expect(record).toMatchObject({ status: "finished", total_rows: 0, size: 3, percentage: 100 });
  });
});

describe("export date range", () => {
  // Rows just inside and just outside 2024-03-10 .. 2024-03-12 in UTC and in Asia/Jakarta (+07:00).
  const instants = [
    "2024-03-09T16:59:59.999999Z",
    "2024-03-09T17:00:00Z",
    "2024-03-09T23:59:59.999999Z",
    "2024-03-10T00:00:00Z",
    "2024-03-12T16:59:59.999999Z",
    "2024-03-12T17:00:00Z",
    "2024-03-12T23:59:59.999999Z",
    "2024-03-13T00:00:00Z",
  ];

  async function appWithUsersAt(times: string[]): Promise<TestApp> {
    const app = await newApp();
    for (const createdAt of times) await insertUser(app, { createdAt });
    return app;
  }

  it("given start and end days, when exporting in UTC, then both days are included whole and nothing beyond", async () => {
    const app = await appWithUsersAt(instants);
    const { rows } = await exportRows(app, {
      type: "users",
      start_date: "2024-03-10",
      end_date: "2024-03-12",
    });
    expect(rows.map((row) => row.CreateAt)).toEqual([
      "2024-03-10T00:00:00Z",
      "2024-03-12T16:59:59.999999Z",
      "2024-03-12T17:00:00Z",
      "2024-03-12T23:59:59.999999Z",
    ]);
  });

  it("given a time zone, when exporting, then the days are that zone's days", async () => {
    const app = await appWithUsersAt(instants);
    const { rows } = await exportRows(app, {
      type: "users",
      start_date: "2024-03-10",
      end_date: "2024-03-12",
      timezone: "Asia/Jakarta",
    });
    expect(rows.map((row) => row.CreateAt)).toEqual([
      "2024-03-09T17:00:00Z",
      "2024-03-09T23:59:59.999999Z",
      "2024-03-10T00:00:00Z",
      "2024-03-12T16:59:59.999999Z",
    ]);
  });

  it("given only a start or only an end day, when exporting, then the other side is open", async () => {
    const app = await appWithUsersAt(instants);
    const fromStart = await exportRows(app, { type: "users", start_date: "2024-03-12" });
    expect(fromStart.rows.map((row) => row.CreateAt)).toEqual(instants.slice(4));
    const untilEnd = await exportRows(app, { type: "users", end_date: "2024-03-09" });
    expect(untilEnd.rows.map((row) => row.CreateAt)).toEqual(instants.slice(0, 3));
  });

  it("given the day clocks spring forward in New York, when exporting that day there, then it spans 23 hours", async () => {
    const app = await appWithUsersAt([
      "2024-03-10T04:59:59.999999Z",
      "2024-03-10T05:00:00Z",
      "2024-03-11T03:59:59.999999Z",
      "2024-03-11T04:00:00Z",
    ]);
    const { rows } = await exportRows(app, {
      type: "users",
      start_date: "2024-03-10",
      end_date: "2024-03-10",
      timezone: "America/New_York",
    });
    expect(rows.map((row) => row.CreateAt)).toEqual([
      "2024-03-10T05:00:00Z",
      "2024-03-11T03:59:59.999999Z",
    ]);
  });
});

describe("export as of the request", () => {
  it("given rows created after the export was requested, when the export runs, then they are not in the file", async () => {
    const app = await newApp();
    await insertUser(app, { email: "before@example.com", createdAt: "2024-01-01T00:00:00Z" });
    await insertUser(app, {
      email: "future@example.com",
      createdAt: new Date(Date.now() + 3600_000).toISOString(),
    });
    const id = await requestExport(app, { type: "users" });
    await chatDb().query("SELECT pg_sleep(0.01)");
    await insertUser(app, { email: "after@example.com", createdAt: new Date().toISOString() });

    expect(await deliverExport(id)).toEqual([]);

    const rows = JSON.parse((await download(app, id)).toString("utf8")) as { Email: string }[];
    expect(rows.map((row) => row.Email)).toEqual(["before@example.com"]);
    expect((await getExport(app, id)).total_rows).toBe(1);
  });
});
