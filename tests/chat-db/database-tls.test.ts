import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { secretLogin } from "../../lib/chat-db/database-credentials.ts";
import { createChatPool } from "../../lib/chat-db/pool.ts";
import { config, type DatabaseConfig } from "../../lib/config.ts";
import { freePort } from "../../scripts/local/emulators.ts";
import { LOCAL_CREDENTIALS } from "../../scripts/local/local-credentials.ts";
import { startLocalPostgres } from "../../scripts/local/postgres.ts";
import { startSecretsManager } from "../../scripts/local/secrets-manager.ts";

// TLS to a real PostgreSQL (embedded, `ssl=on`) whose certificate is issued by a CA made here with
// openssl, for 127.0.0.1 only; the server also listens on 127.0.0.2, a name its certificate lacks.
// The pool logs in as on AWS, with the login from a Secrets Manager secret.

const dir = mkdtempSync(join(tmpdir(), "chat-backup-tls-"));
const password = randomBytes(12).toString("hex");
let stopPostgres: (() => Promise<void>) | undefined;
let secrets: Server | undefined;
let client: SecretsManagerClient;
let port: number;
let base: DatabaseConfig;

function openssl(...args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: "ignore" });
}

/** A self-signed CA `name`.key / `name`.pem. */
function makeCa(name: string): void {
  openssl(
    "req",
    ...["-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", `/CN=${name}`],
    ...["-keyout", `${name}.key`, "-out", `${name}.pem`],
  );
}

beforeAll(async () => {
  chmodSync(dir, 0o755);
  makeCa("test-ca");
  makeCa("other-ca");
  openssl(
    ...["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1"],
    ...["-keyout", "server.key", "-out", "server.csr"],
  );
  writeFileSync(join(dir, "server.ext"), "subjectAltName=IP:127.0.0.1\n");
  openssl(
    ...["x509", "-req", "-in", "server.csr", "-CA", "test-ca.pem", "-CAkey", "test-ca.key"],
    ...["-CAcreateserial", "-days", "2", "-extfile", "server.ext", "-out", "server.pem"],
  );
  const key = join(dir, "server.key");
  chmodSync(key, 0o600);
  // As root, PostgreSQL runs as `postgres`, and refuses a key file that user cannot own.
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync("id", ["-u", "postgres"]).toString());
    const gid = Number(execFileSync("id", ["-g", "postgres"]).toString());
    chownSync(key, uid, gid);
  }
  port = await freePort();
  const postgres = await startLocalPostgres({
    dataDir: join(dir, "data"),
    port,
    user: "postgres",
    password,
    database: "chat",
    persistent: false,
    settings: {
      ssl: "on",
      ssl_cert_file: join(dir, "server.pem"),
      ssl_key_file: key,
      listen_addresses: "127.0.0.1,127.0.0.2",
    },
  });
  stopPostgres = postgres.stop;

  const started = await startSecretsManager(0, {
    region: "us-east-1",
    secretKeys: { [LOCAL_CREDENTIALS.accessKeyId]: LOCAL_CREDENTIALS.secretAccessKey },
  });
  secrets = started.server;
  client = new SecretsManagerClient({
    region: "us-east-1",
    endpoint: `http://127.0.0.1:${started.port}`,
    credentials: LOCAL_CREDENTIALS,
  });
  const created = await client.send(
    new CreateSecretCommand({
      Name: "tls/chat",
      SecretString: JSON.stringify({ username: "postgres", password, dbname: "chat" }),
    }),
  );
  base = {
    region: "us-east-1",
    host: "127.0.0.1",
    port,
    secretArn: created.ARN as string,
    secretMaxAgeSeconds: 900,
    tls: "verify-full",
    caBundlePath: join(dir, "test-ca.pem"),
  };
}, 120_000);

afterAll(async () => {
  client?.destroy();
  await new Promise((resolve) => (secrets ? secrets.close(resolve) : resolve(undefined)));
  await stopPostgres?.();
  rmSync(dir, { recursive: true, force: true });
});

/** What the server says of the connection the pool opened with `settings`. */
async function connectWith(settings: Partial<DatabaseConfig>) {
  const database = { ...base, ...settings };
  const pool = createChatPool(database, { max: 1 }, secretLogin(database, client));
  try {
    const { rows } = await pool.query<{ ssl: boolean; version: string | null }>(
      "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
    );
    return rows[0];
  } finally {
    await pool.end();
  }
}

async function refusal(settings: Partial<DatabaseConfig>): Promise<string> {
  const error = await connectWith(settings).then(
    () => undefined,
    (failure: Error & { code?: string }) => failure,
  );
  expect(error, "the connection was refused").toBeDefined();
  const text = `${error?.code} ${error?.message}`;
  expect(text).not.toContain(password);
  return text;
}

describe("TLS to the chat database", () => {
  it("connects encrypted when the certificate chains to the configured CA and names the host", async () => {
    expect(await connectWith({})).toEqual({
      ssl: true,
      version: expect.stringMatching(/^TLSv1\.[23]$/),
    });
  });

  it("refuses a server whose certificate another CA issued", async () => {
    expect(await refusal({ caBundlePath: join(dir, "other-ca.pem") })).toMatch(
      /SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|self-signed certificate/i,
    );
  });

  it("refuses it with the shipped RDS and RDS Proxy CAs, which did not issue it", async () => {
    expect(await refusal({ caBundlePath: undefined })).toMatch(/certificate/i);
  });

  it("refuses a certificate for another host with verify-full, and accepts it with verify-ca", async () => {
    expect(await refusal({ host: "127.0.0.2" })).toMatch(/ERR_TLS_CERT_ALTNAME_INVALID|altnames/i);
    expect(await connectWith({ host: "127.0.0.2", tls: "verify-ca" })).toMatchObject({ ssl: true });
  });

  it("never falls back to plain TCP when the server offers no TLS", async () => {
    // The stack's own PostgreSQL speaks plain TCP only.
    const { host, port: stackPort, name } = config().database;
    expect(await refusal({ host, port: stackPort, name, secretArn: base.secretArn })).toContain(
      "The server does not support SSL connections",
    );
  });
});
