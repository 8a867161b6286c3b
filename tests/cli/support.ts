import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll } from "vitest";
import { sqs } from "../../lib/aws/sqs.ts";
import { startQueuePoller } from "../../scripts/local/queue-poller.ts";
import { ROOT_DIR } from "../../scripts/local/stack.ts";
import { runtime, stack, type TestApp } from "../support/harness.ts";
import { startValidatingProxy, type ValidatingProxy } from "../support/validating-proxy.ts";

export const BIN = join(ROOT_DIR, "bin", "chat-backup.js");

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

let proxy: Promise<ValidatingProxy> | undefined;
afterAll(async () => {
  await (await proxy)?.close();
});

/**
 * The address the command line under test is given for the service: a proxy in front of the
 * test stack's API that checks every answer the command receives against the OpenAPI document.
 */
export async function apiUrl(): Promise<string> {
  proxy ??= startValidatingProxy(stack.url);
  return (await proxy).url;
}

/** Fails when an answer the command line received since the last check broke the document. */
export async function assertAnswersDocumented(): Promise<void> {
  const problems = proxy ? (await proxy).takeProblems() : [];
  if (problems.length > 0) {
    throw new Error(`the API answered outside its OpenAPI document:\n${problems.join("\n")}`);
  }
}

/** The environment `chat-backup` reads its settings from (`url`: the API, through the proxy). */
export function cliEnv(app: TestApp | undefined, url: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_NO_WARNINGS: "1",
    CHAT_BACKUP_URL: url,
    ...(app ? { QISCUS_SDK_APP_ID: app.appId, QISCUS_SDK_SECRET: app.secret } : {}),
  };
}

/** Runs a command and collects what it printed and its exit code. */
export function run(
  command: string,
  args: string[],
  options: { env: NodeJS.ProcessEnv; cwd: string },
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: options.env, cwd: options.cwd, stdio: "pipe" });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * `chat-backup ARGS` as a user runs it (not on a terminal: stdout and stderr are pipes), against
 * the test stack through the checking proxy unless another `url` (a stand-in server) is given.
 */
export async function chatBackup(
  args: string[],
  options: { app?: TestApp; cwd: string; url?: string },
): Promise<CliRun> {
  const result = await run(process.execPath, [BIN, ...args], {
    env: cliEnv(options.app, options.url ?? (await apiUrl())),
    cwd: options.cwd,
  });
  if (options.url === undefined) await assertAnswersDocumented();
  return result;
}

/**
 * Delivers export and import messages to their workers while the command line waits for its
 * jobs, as Lambda's event source mappings do (the test stack has no pollers of its own).
 * @returns a function that stops the delivery
 */
export function deliverJobMessages(): () => Promise<void> {
  const consumers = {
    ExportQueue: "exportWorker",
    ImportQueue: "importWorker",
    BackupQueue: "backupWorker",
  } as const;
  const stops = (["ExportQueue", "ImportQueue", "BackupQueue"] as const).map((queue) =>
    startQueuePoller(
      runtime,
      sqs(),
      {
        functionName: consumers[queue],
        queueUrl: stack.queues[queue] as string,
        queueArn: `arn:aws:sqs:us-east-1:000000000000:${queue}`,
        batchSize: 1,
      },
      { region: "us-east-1", concurrency: 1, visibilitySeconds: 30, retryDelaySeconds: 1 },
    ),
  );
  return async () => {
    await Promise.all(stops.map((stop) => stop()));
  };
}

/** A small application's data: users, rooms (a group and a single) and comments with replies. */
export function sampleData(prefix: string) {
  const users = Array.from({ length: 5 }, (_, i) => ({
    Email: `${prefix}.user${i}@example.com`,
    Name: `User ${i}`,
    AvatarUrl: "https://example.com/avatar.png",
    AuthenticationToken: `${prefix}-token-${i}`,
    Password: `password-${i}`,
    CreateAt: `2024-01-01T00:0${i}:00Z`,
  }));
  const emails = users.map((user) => user.Email);
  const rooms = [
    {
      Name: "Team",
      Type: "group",
      Options: "",
      CreatorEmail: emails[0],
      CreatedAt: "2024-02-01T00:00:00Z",
      AvatarUrl: "",
      UniqueId: `${prefix}-team`,
      ParticipantEmails: emails,
    },
    {
      Name: "",
      Type: "single",
      Options: "",
      CreatorEmail: emails[1],
      CreatedAt: "2024-02-02T00:00:00Z",
      AvatarUrl: "",
      UniqueId: `${prefix}-pair`,
      ParticipantEmails: [emails[1], emails[2]],
    },
  ];
  const comments = Array.from({ length: 8 }, (_, i) => {
    const reply = i % 3 === 2;
    const room = i < 4 ? `${prefix}-team` : `${prefix}-pair`;
    return {
      Message: reply ? `reply ${i}` : `message ${i}`,
      DisableLinkPreview: false,
      Type: reply ? "reply" : "text",
      UniqueId: `${prefix}-c${i}`,
      CreatorEmail: i < 4 ? emails[i] : emails[1 + (i % 2)],
      RoomUniqueId: room,
      CreatedAt: `2024-03-01T00:0${i}:00Z`,
      Payload: reply ? { text: `message ${i - 1}`, replied_comment_id: 1 } : null,
      ...(reply ? { ParentCommentUniqueId: `${prefix}-c${i - 1}` } : {}),
    };
  });
  return { users, rooms, comments };
}

/** An export's rows with the database ids that differ between applications blanked. */
export function withoutDatabaseIds(rows: Record<string, unknown>[]) {
  return rows.map((row) => {
    const payload = row.Payload as Record<string, unknown> | null;
    return payload && "replied_comment_id" in payload
      ? { ...row, Payload: { ...payload, replied_comment_id: 0 } }
      : row;
  });
}
