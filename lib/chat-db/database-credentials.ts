import { SecretsProvider } from "@aws-lambda-powertools/parameters/secrets";
import type { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { recordCachedCall } from "../aws/call-recorder.ts";
import { secretsManager } from "../aws/secrets-manager.ts";
import { type DatabaseConfig, databaseConfig } from "../config.ts";

/** Where one connection logs in, and as whom. */
export interface DatabaseLogin {
  host: string;
  port: number;
  database: string;
  user: string;
  password: string;
}

/**
 * Reads the login: `forceFetch` skips the cached secret (a login was refused, so the password
 * has probably been rotated).
 */
export type LoginSource = (options: { forceFetch: boolean }) => Promise<DatabaseLogin>;

/** Raised when the secret cannot describe a login. Its message never holds the secret's value. */
export class DatabaseSecretError extends Error {
  override name = "DatabaseSecretError";
}

const RDS_FORMAT = "{username, password, host, port, dbname}";

function text(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

/**
 * The login a secret in the RDS format describes. DATABASE_HOST, DATABASE_PORT and DATABASE_NAME
 * come before the secret's `host`, `port` and `dbname`: on AWS the host is the RDS Proxy's
 * endpoint, while a secret that RDS manages names the instance (or nothing but the user).
 * @throws DatabaseSecretError naming what is missing, never a value
 */
export function loginFromSecret(database: DatabaseConfig, value: unknown): DatabaseLogin {
  const raw = value instanceof Uint8Array ? Buffer.from(value).toString("utf8") : value;
  let secret: unknown;
  try {
    secret = typeof raw === "string" ? JSON.parse(raw) : undefined;
  } catch {
    // JSON.parse quotes the text it could not read: its message must not travel.
    secret = undefined;
  }
  const where = `the secret ${database.secretArn}`;
  if (typeof secret !== "object" || secret === null || Array.isArray(secret)) {
    throw new DatabaseSecretError(`${where} is not a JSON object in the RDS format ${RDS_FORMAT}`);
  }
  const fields = secret as Record<string, unknown>;
  const user = text(fields.username);
  const password = text(fields.password);
  if (!user || !password) {
    throw new DatabaseSecretError(`${where} has no "username" and "password" strings`);
  }
  const host = database.host ?? text(fields.host);
  if (!host) throw new DatabaseSecretError(`set DATABASE_HOST: ${where} names no "host"`);
  const name = database.name ?? text(fields.dbname);
  if (!name) throw new DatabaseSecretError(`set DATABASE_NAME: ${where} names no "dbname"`);
  const port = database.port ?? (fields.port === undefined ? 5432 : Number(fields.port));
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new DatabaseSecretError(`set DATABASE_PORT: the "port" of ${where} is not a port number`);
  }
  return { host, port, database: name, user, password };
}

/**
 * For the IAM evidence (`lib/aws/call-recorder.ts`): the current function needs the secret,
 * although this process may answer from its cache. On AWS each function's containers read it at
 * their first login; locally every function shares one process and one cache.
 */
export function noteSecretRead(): void {
  recordCachedCall("secretsmanager", "GetSecretValue", () => ({
    SecretId: databaseConfig().secretArn,
  }));
}

/**
 * The login from the database's Secrets Manager secret, read through Powertools Parameters: the
 * first connection of a container reads it (its cold start), later ones use the cached value for
 * DATABASE_SECRET_MAX_AGE_SECONDS, and a refused login reads it again at once (`forceFetch`).
 */
export function secretLogin(
  database: DatabaseConfig,
  client: SecretsManagerClient = secretsManager(),
): LoginSource {
  const provider = new SecretsProvider({ awsSdkV3Client: client });
  return async ({ forceFetch }) => {
    noteSecretRead();
    const value = await provider.get(database.secretArn, {
      maxAge: database.secretMaxAgeSeconds,
      forceFetch,
    });
    return loginFromSecret(database, value);
  };
}
