import { describe, expect, it } from "vitest";
import { chatDb } from "../../lib/chat-db/pool.ts";
import { newApp } from "../support/harness.ts";
import { importOk, importRows, problemsOf } from "./support.ts";

// The seed document's example files, with real addresses in place of the redacted ones.
const ADDRESS = {
  user: "nama@example.com",
  doctor: "doctor@example.com",
  patient: "patient@example.com",
  third: "third@example.com",
};

const seedUsers = [
  {
    Email: ADDRESS.user,
    Name: "Nama",
    AvatarUrl: "https://placehold.it/20x20",
    AuthenticationToken: "randomstring",
    Password: "password",
    CreateAt: "2017-05-10T11:46:30Z",
  },
];

const seedRooms = [
  {
    Name: `${ADDRESS.doctor} 4992614d-9d32-4cc4-ae8e-310a7a0fdbb9`,
    Type: "single",
    Options: "",
    CreatorEmail: ADDRESS.doctor,
    CreatedAt: "2017-05-11T06:35:27Z",
    AvatarUrl: "",
    UniqueId: "f82e5262-e9c4-4b7b-867a-ea890ba64f43",
    ParticipantEmails: [ADDRESS.doctor, ADDRESS.patient],
  },
  {
    Name: "Qiscus Family Super",
    Type: "group",
    Options: "",
    CreatorEmail: ADDRESS.doctor,
    CreatedAt: "2017-05-11T06:35:27Z",
    AvatarUrl: "",
    UniqueId: "f82e5262-e9c4-4b7b-867a-ea890ba64f43",
    ParticipantEmails: [ADDRESS.doctor, ADDRESS.patient, ADDRESS.third],
  },
];

const seedComments = [
  {
    Message: "Halo doc",
    DisableLinkPreview: false,
    Type: "text",
    UniqueId: "android_14945300625232b81ffc0520f961",
    CreatorEmail: ADDRESS.patient,
    RoomUniqueId: "4e6c208b-3436-46a0-a6d7-add9b90dfc77",
    CreatedAt: "2017-05-11T19:14:24Z",
    Payload: null,
    ParentCommentUniqueId: "",
  },
  {
    Message: "Maaf mau tanya..",
    DisableLinkPreview: false,
    Type: "reply",
    UniqueId: "android_14945300625232b81ffc0520f962",
    CreatorEmail: ADDRESS.patient,
    RoomUniqueId: "4e6c208b-3436-46a0-a6d7-add9b90dfc77",
    CreatedAt: "2017-05-11T19:14:24Z",
    Payload: { text: "Maaf mau tanya..", replied_comment_id: 1 },
    ParentCommentUniqueId: "android_14945300625232b81ffc0520f961",
  },
];

const people = (addresses: string[]) =>
  addresses.map((address, i) => ({
    ...seedUsers[0],
    Email: address,
    AuthenticationToken: `t${i}`,
  }));

describe("the seed document's examples", () => {
  it("given the users example, when imported, then it finishes with 1 row", async () => {
    const app = await newApp();
    const job = await importOk(app, "users", seedUsers);
    expect(job.total_rows).toBe(1);
  });

  it("given the rooms example as is, when imported, then only its repeated UniqueId (row 1) is refused", async () => {
    const app = await newApp();
    await importOk(app, "users", people(Object.values(ADDRESS)));
    const job = await importRows(app, "rooms", seedRooms);
    expect(problemsOf(job)).toEqual(["1:UniqueId"]);
  });

  it("given the rooms example with distinct UniqueIds, when imported, then both rooms are stored", async () => {
    const app = await newApp();
    await importOk(app, "users", people(Object.values(ADDRESS)));
    const rooms = [seedRooms[0], { ...seedRooms[1], UniqueId: "qiscus-family-super" }];
    expect((await importOk(app, "rooms", rooms)).total_rows).toBe(2);
    const { rows } = await chatDb().query("SELECT name FROM rooms WHERE app_id = $1 ORDER BY id", [
      app.appId,
    ]);
    expect(rows.map((row) => row.name)).toEqual([
      `${ADDRESS.doctor} ${ADDRESS.patient}`,
      "Qiscus Family Super",
    ]);
  });

  it("given the comments example, when imported into its room, then text and reply are stored", async () => {
    const app = await newApp();
    await importOk(app, "users", people([ADDRESS.doctor, ADDRESS.patient]));
    await importOk(app, "rooms", [
      { ...seedRooms[0], UniqueId: "4e6c208b-3436-46a0-a6d7-add9b90dfc77" },
    ]);
    const job = await importOk(app, "comments", seedComments);
    expect(job.total_rows).toBe(2);
  });
});
