import { expect } from "vitest";
import { chatDb } from "../../lib/chat-db/pool.ts";
import { type ApiResponse, call, drainQueue, type TestApp } from "../support/harness.ts";

export type Row = Record<string, unknown>;

/** Sends an import as a client would: multipart form with `type`, `file` and maybe `dry_run`. */
export function postImport(
  app: TestApp,
  type: string,
  content: string | Uint8Array,
  options: { filename?: string; dryRun?: boolean; onExisting?: string } = {},
): Promise<ApiResponse> {
  const form = new FormData();
  form.set("type", type);
  if (options.dryRun) form.set("dry_run", "true");
  if (options.onExisting) form.set("on_existing", options.onExisting);
  form.set(
    "file",
    new Blob([content], { type: "application/json" }),
    options.filename ?? `${type}.json`,
  );
  return call("POST", "/api/v2.1/rest/imports", { app, form });
}

/** The job as `GET /imports/:id` shows it. */
export async function getImport(app: TestApp, jobId: string) {
  const response = await call("GET", `/api/v2.1/rest/imports/${jobId}`, { app });
  expect(response.status).toBe(200);
  return response.body.results.backup_history;
}

/** Delivers import messages until the job is finished or failed; returns the job. */
export async function settle(app: TestApp, jobId: string) {
  for (let attempt = 0; attempt < 10; attempt += 1) {
    await drainQueue("ImportQueue", { maxMessages: 1 });
    const job = await getImport(app, jobId);
    if (job.status === "finished" || job.status === "failed") return job;
  }
  throw new Error(`import ${jobId} did not settle`);
}

/** Posts rows as a file and runs the import to its end; returns the job. */
export async function importRows(
  app: TestApp,
  type: "users" | "rooms" | "comments",
  rows: unknown,
  options: { dryRun?: boolean; onExisting?: string } = {},
) {
  const response = await postImport(app, type, JSON.stringify(rows), options);
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  return settle(app, response.body.results.backup_history.unique_id);
}

/** Imports rows that must all pass; fails the test with the job's errors otherwise. */
export async function importOk(app: TestApp, type: "users" | "rooms" | "comments", rows: unknown) {
  const job = await importRows(app, type, rows);
  expect(job.errors, JSON.stringify(job.errors)).toEqual({ Message: "", Data: null });
  expect(job.status).toBe("finished");
  return job;
}

let counter = 0;
/** A fresh address under a reserved test domain. */
export function email(name = "user"): string {
  counter += 1;
  return `${name}.${counter}.${Date.now().toString(36)}@example.com`;
}

export function user(overrides: Row = {}): Row {
  const address = (overrides.Email as string) ?? email();
  return {
    Email: address,
    Name: "A User",
    AvatarUrl: "https://placehold.it/20x20",
    AuthenticationToken: `token-${address}`,
    Password: "password",
    CreateAt: "2017-05-10T11:46:30Z",
    ...overrides,
  };
}

export function room(creator: string, participants: string[], overrides: Row = {}): Row {
  return {
    Name: "Room",
    Type: "group",
    Options: "",
    CreatorEmail: creator,
    CreatedAt: "2017-05-11T06:35:27Z",
    AvatarUrl: "",
    UniqueId: `room-${email("r")}`,
    ParticipantEmails: participants,
    ...overrides,
  };
}

export function comment(creator: string, roomId: string, overrides: Row = {}): Row {
  return {
    Message: "Halo doc",
    DisableLinkPreview: false,
    Type: "text",
    UniqueId: `c-${email("c")}`,
    CreatorEmail: creator,
    RoomUniqueId: roomId,
    CreatedAt: "2017-05-11T19:14:24Z",
    Payload: null,
    ParentCommentUniqueId: "",
    ...overrides,
  };
}

/** An app with two users in one group room: the usual ground for comment tests. */
export async function roomWithTwoUsers(app: TestApp) {
  const [alice, bob] = [email("alice"), email("bob")];
  await importOk(app, "users", [user({ Email: alice }), user({ Email: bob })]);
  const roomId = `room-${email("g")}`;
  await importOk(app, "rooms", [room(alice, [alice, bob], { UniqueId: roomId })]);
  return { alice, bob, roomId };
}

/** How many rows of a table belong to the app. */
export async function countRows(
  appId: string,
  table: "users" | "rooms" | "comments",
): Promise<number> {
  const { rows } = await chatDb().query<{ n: number }>(
    `SELECT count(*)::int AS n FROM ${table} WHERE app_id = $1`,
    [appId],
  );
  return rows[0]?.n ?? 0;
}

/** The row errors of a failed job, as `row:field` pairs, for compact assertions. */
export function problemsOf(job: { errors: { Data: { row: number; field: string }[] | null } }) {
  return (job.errors.Data ?? []).map((problem) => `${problem.row}:${problem.field}`);
}
