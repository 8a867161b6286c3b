import { describe, expect, it } from "vitest";
import { chatDb } from "../../lib/chat-db/pool.ts";
import { newApp, type TestApp } from "../support/harness.ts";
import { countRows, email, importOk, importRows, problemsOf, room, user } from "./support.ts";

async function threeUsers(app: TestApp) {
  const people = [email("ann"), email("ben"), email("cat")];
  await importOk(
    app,
    "users",
    people.map((address) => user({ Email: address })),
  );
  return people as [string, string, string];
}

async function storedRoom(appId: string, uniqueId: string) {
  const { rows } = await chatDb().query(
    `SELECT r.name, r.type, r.options, c.email AS creator,
       ARRAY(SELECT u.email FROM room_participants p JOIN users u ON u.id = p.user_id
             WHERE p.room_id = r.id ORDER BY p.position) AS participants
     FROM rooms r JOIN users c ON c.id = r.creator_id WHERE r.app_id = $1 AND r.unique_id = $2`,
    [appId, uniqueId],
  );
  return rows[0];
}

describe("rooms import", () => {
  it("given a single room, when imported, then its name is the two participants' addresses in order", async () => {
    const app = await newApp();
    const [ann, ben] = await threeUsers(app);
    await importOk(app, "rooms", [
      room(ben, [ann, ben], { Type: "single", Name: "ignored", UniqueId: "single-1" }),
    ]);
    expect(await storedRoom(app.appId, "single-1")).toMatchObject({
      name: `${ann} ${ben}`,
      type: "single",
      creator: ben,
      participants: [ann, ben],
    });
  });

  it("given a group room, when imported, then it keeps its name, options and participants", async () => {
    const app = await newApp();
    const [ann, ben, cat] = await threeUsers(app);
    await importOk(app, "rooms", [
      room(ann, [ann, ben, cat], {
        Name: "Qiscus Family",
        Options: '{"color":"red"}',
        UniqueId: "g",
      }),
    ]);
    expect(await storedRoom(app.appId, "g")).toMatchObject({
      name: "Qiscus Family",
      options: '{"color":"red"}',
      participants: [ann, ben, cat],
    });
  });

  it("given a single room with 3 participants, when imported, then that row fails on ParticipantEmails", async () => {
    const app = await newApp();
    const [ann, ben, cat] = await threeUsers(app);
    const job = await importRows(app, "rooms", [
      room(ann, [ann, ben]),
      room(ann, [ann, ben, cat], { Type: "single" }),
    ]);
    expect(problemsOf(job)).toEqual(["1:ParticipantEmails"]);
    expect(await countRows(app.appId, "rooms")).toBe(0);
  });

  it("given a single room whose creator is not a participant, when imported, then it fails on CreatorEmail", async () => {
    const app = await newApp();
    const [ann, ben, cat] = await threeUsers(app);
    const job = await importRows(app, "rooms", [room(cat, [ann, ben], { Type: "single" })]);
    expect(problemsOf(job)).toEqual(["0:CreatorEmail"]);
  });

  it("given a creator who is not a user of the app, when imported, then it fails on CreatorEmail", async () => {
    const app = await newApp();
    const [ann] = await threeUsers(app);
    const job = await importRows(app, "rooms", [room(ann, [ann]), room(email("ghost"), [ann])]);
    expect(problemsOf(job)).toEqual(["1:CreatorEmail"]);
  });

  it("given a participant who is not a user of the app, when imported, then it fails on that participant", async () => {
    const app = await newApp();
    const [ann, ben] = await threeUsers(app);
    const job = await importRows(app, "rooms", [room(ann, [ann, ben, email("ghost")])]);
    expect(problemsOf(job)).toEqual(["0:ParticipantEmails.2"]);
  });

  it("given a user of another app as participant, when imported, then it is not found", async () => {
    const [app, other] = [await newApp(), await newApp()];
    const [ann] = await threeUsers(app);
    const [stranger] = await threeUsers(other);
    const job = await importRows(app, "rooms", [room(ann, [ann, stranger])]);
    expect(problemsOf(job)).toEqual(["0:ParticipantEmails.1"]);
  });

  it("given the same UniqueId twice in the file, when imported, then the second row fails", async () => {
    const app = await newApp();
    const [ann] = await threeUsers(app);
    const job = await importRows(app, "rooms", [
      room(ann, [ann], { UniqueId: "dup" }),
      room(ann, [ann], { UniqueId: "dup" }),
    ]);
    expect(problemsOf(job)).toEqual(["1:UniqueId"]);
  });

  it("given a UniqueId already in the app, when imported, then that row fails", async () => {
    const app = await newApp();
    const [ann] = await threeUsers(app);
    await importOk(app, "rooms", [room(ann, [ann], { UniqueId: "taken" })]);
    const job = await importRows(app, "rooms", [room(ann, [ann], { UniqueId: "taken" })]);
    expect(problemsOf(job)).toEqual(["0:UniqueId"]);
  });

  it("given a participant listed twice, when imported, then that position fails", async () => {
    const app = await newApp();
    const [ann, ben] = await threeUsers(app);
    const job = await importRows(app, "rooms", [room(ann, [ann, ben, ben.toUpperCase()])]);
    expect(problemsOf(job)).toEqual(["0:ParticipantEmails.2"]);
  });

  it("given a group without a name or a bad type, when imported, then those rows fail", async () => {
    const app = await newApp();
    const [ann] = await threeUsers(app);
    const job = await importRows(app, "rooms", [
      room(ann, [ann], { Name: "" }),
      room(ann, [ann], { Type: "channel" }),
    ]);
    expect(problemsOf(job)).toEqual(["0:Name", "1:Type"]);
  });
});
