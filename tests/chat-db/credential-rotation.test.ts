import { randomBytes, randomUUID } from "node:crypto";
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { CredentialedPool } from "../../lib/chat-db/credentialed-pool.ts";
import { secretLogin } from "../../lib/chat-db/database-credentials.ts";
import { chatDb, createChatPool } from "../../lib/chat-db/pool.ts";
import { config } from "../../lib/config.ts";
import { logger } from "../../lib/observability.ts";
import { call, newApp, stack } from "../support/harness.ts";

// A password rotated while the service runs: open connections go on, the next new connection is
// refused once (28P01), the pool reads the secret again and the request succeeds. Everything runs
// against the stack's local Secrets Manager and PostgreSQL, through the SDK client and pg.

/** A Secrets Manager client on the stack's endpoint that counts the GetSecretValue calls it sends. */
function countingClient() {
  const { region, secretsManagerEndpoint } = config().database;
  const client = new SecretsManagerClient({ region, endpoint: secretsManagerEndpoint });
  const counter = { reads: 0 };
  client.middlewareStack.add(
    (next, context) => (args) => {
      if (context.commandName === "GetSecretValueCommand") counter.reads += 1;
      return next(args);
    },
    { step: "initialize", name: "countReads" },
  );
  return { client, counter };
}

const password = () => randomBytes(18).toString("base64url");

async function alterPassword(role: string, value: string): Promise<void> {
  await chatDb().query(
    `ALTER ROLE ${pg.escapeIdentifier(role)} PASSWORD ${pg.escapeLiteral(value)}`,
  );
}

/**
 * Ends every session of `role` but the caller's, as a restart of the proxy or a scale-in would,
 * and waits until they are gone and their clients have had a moment to see their sockets close
 * (a pool hands out an idle connection it has not yet seen die).
 */
async function endSessions(role: string): Promise<void> {
  const others = `FROM pg_stat_activity
    WHERE usename = $1 AND backend_type = 'client backend' AND pid <> pg_backend_pid()`;
  const client = await chatDb().connect();
  try {
    await client.query(`SELECT pg_terminate_backend(pid) ${others}`, [role]);
    for (let i = 0; i < 200; i++) {
      const { rows } = await client.query<{ n: number }>(`SELECT count(*)::int AS n ${others}`, [
        role,
      ]);
      if (rows[0]?.n === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  } finally {
    client.release();
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
}

async function untilNoConnections(pool: pg.Pool): Promise<void> {
  for (let i = 0; i < 200 && pool.totalCount > 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  expect(pool.totalCount).toBe(0);
}

/** What the service's logger was asked to write while `work` ran, as the JSON it writes. */
async function logsOf<T>(work: () => Promise<T>): Promise<{ result: T; logs: string }> {
  const lines: unknown[] = [];
  const spies = (["debug", "info", "warn", "error"] as const).map((level) =>
    vi.spyOn(logger, level).mockImplementation(((...args: unknown[]) => {
      lines.push({ level, args });
    }) as never),
  );
  try {
    const result = await work();
    return { result, logs: JSON.stringify(lines) };
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
}

describe("a rotated database password, on a pool of its own", () => {
  const role = `rotation_${randomUUID().slice(0, 8)}`;
  const { client, counter } = countingClient();
  let secretArn: string;
  let pool: CredentialedPool;
  let first: string;

  const whoAmI = async () =>
    (await pool.query<{ user: string }>("SELECT current_user AS user")).rows[0]?.user;

  beforeAll(async () => {
    first = password();
    await chatDb().query(
      `CREATE ROLE ${pg.escapeIdentifier(role)} LOGIN PASSWORD ${pg.escapeLiteral(first)}`,
    );
    const database = config().database;
    const created = await client.send(
      new CreateSecretCommand({
        Name: `test/${role}`,
        SecretString: JSON.stringify({ username: role, password: first }),
      }),
    );
    secretArn = created.ARN as string;
    const settings = { ...database, secretArn };
    pool = createChatPool(settings, { max: 2 }, secretLogin(settings, client));
  });

  afterAll(async () => {
    await pool?.end();
    client.destroy();
    await chatDb().query(`DROP ROLE IF EXISTS ${pg.escapeIdentifier(role)}`);
  });

  it("reads the secret once for its first connection and keeps using it", async () => {
    expect(await whoAmI()).toBe(role);
    expect(await whoAmI()).toBe(role);
    expect(counter.reads).toBe(1);
  });

  it("keeps its open connections through a rotation, then reads the secret again once when a new login is refused", async () => {
    const rotated = password();
    await alterPassword(role, rotated);
    await client.send(
      new PutSecretValueCommand({
        SecretId: secretArn,
        SecretString: JSON.stringify({ username: role, password: rotated }),
      }),
    );
    // An open connection was checked at its login only: it still serves, and nothing is read.
    expect(await whoAmI()).toBe(role);
    expect(counter.reads).toBe(1);

    await endSessions(role);
    await untilNoConnections(pool);
    const { result, logs } = await logsOf(() => Promise.all([1, 2, 3, 4, 5].map(() => whoAmI())));
    expect(result).toEqual([role, role, role, role, role]);
    // The cached password was refused and read again once, for all five requests together.
    expect(counter.reads).toBe(2);
    expect(logs).toContain("the chat database refused the login: reading its credentials again");
    expect(logs).toContain('"code":"28P01"');
    expect(logs).not.toContain(first);
    expect(logs).not.toContain(rotated);
  });

  it("fails a connection whose second login is refused too, without the password in the error, and recovers once the secret is current", async () => {
    // Secrets Manager's rotation sets the new password on the database before it makes the new
    // version current: in between, the secret still gives the old one.
    const next = password();
    await alterPassword(role, next);
    await endSessions(role);
    await untilNoConnections(pool);
    const before = counter.reads;
    const failure = await whoAmI().then(
      () => undefined,
      (error: unknown) => error as Error & { code?: string },
    );
    expect(failure?.code).toBe("28P01");
    expect(counter.reads).toBe(before + 1);
    const shown = `${String(failure)} ${failure?.stack} ${JSON.stringify(failure)}`;
    expect(shown).not.toContain(next);

    await client.send(
      new PutSecretValueCommand({
        SecretId: secretArn,
        SecretString: JSON.stringify({ username: role, password: next }),
      }),
    );
    expect(await whoAmI()).toBe(role);
    expect(counter.reads).toBe(before + 2);
  });
});

describe("a rotated database password, while the stack serves requests", () => {
  const secretId = stack.env.DATABASE_SECRET_ARN as string;
  const user = "postgres";
  const { client } = countingClient();
  let original: string;

  beforeAll(async () => {
    const read = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
    original = read.SecretString as string;
  });

  afterAll(async () => {
    // Back to the stack's own password, for the test files after this one.
    await alterPassword(user, JSON.parse(original).password);
    await client.send(new PutSecretValueCommand({ SecretId: secretId, SecretString: original }));
    client.destroy();
  });

  it("answers the next request after the secret and the database password change, with every connection ended", async () => {
    const app = await newApp();
    expect((await call("GET", "/api/v2.1/rest/exports", { app })).status).toBe(200);
    // Never seen by the stack yet: its request is authenticated by a query, not from memory.
    const unseen = await newApp();

    const rotated = password();
    await alterPassword(user, rotated);
    await client.send(
      new PutSecretValueCommand({
        SecretId: secretId,
        SecretString: JSON.stringify({ ...JSON.parse(original), password: rotated }),
      }),
    );
    // The stack's functions hold the old password (cached) and none of their connections: the
    // request below can only be answered with a login read again from the secret.
    await endSessions(user);
    const answered = await call("GET", "/api/v2.1/rest/exports", { app: unseen });
    expect(answered.status).toBe(200);
    expect(JSON.stringify(answered.body)).not.toContain(rotated);
  });
});
