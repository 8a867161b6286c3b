import { createHash, randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import { promisify } from "node:util";
import { noteSecretRead } from "./database-credentials.ts";
import { chatDb } from "./pool.ts";

const scryptAsync = promisify(scrypt) as (
  password: string,
  salt: Buffer,
  keylen: number,
  options: { N: number; r: number; p: number },
) => Promise<Buffer>;

const SCRYPT = { N: 16384, r: 8, p: 1 };
const KEY_LENGTH = 32;
/** A verified secret is remembered (as a SHA-256 digest) for this long, per container. */
const VERIFIED_TTL_MS = 5 * 60 * 1000;

export interface Application {
  appId: string;
  name: string;
  nightlyExport: boolean;
  timezone: string;
  /** Nightly backups this application keeps (absent: the service's `NIGHTLY_BACKUPS_KEPT`). */
  nightlyBackupsKept?: number;
  /** This application's own limits; absent ones take the service's defaults. */
  limits?: { requestsPerSecond?: number; maxOpenJobs?: number };
}

/** Hashes an application secret for storage (scrypt, random salt). */
export async function hashSecret(secret: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(secret, salt, KEY_LENGTH, SCRYPT);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString("base64")}$${key.toString("base64")}`;
}

async function secretMatches(secret: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, key] = stored.split("$");
  if (scheme !== "scrypt" || !salt || !key) return false;
  const expected = Buffer.from(key, "base64");
  const actual = await scryptAsync(secret, Buffer.from(salt, "base64"), expected.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
  });
  return timingSafeEqual(actual, expected);
}

const verified = new Map<string, { digest: Buffer; until: number; app: Application }>();

function digestOf(appId: string, secret: string): Buffer {
  return createHash("sha256").update(appId).update("\0").update(secret).digest();
}

/**
 * The application when this container verified exactly this (id, secret) pair within the last
 * five minutes (compared as SHA-256 digests, in constant time); no hash, no query.
 */
export function recentlyVerified(appId: string, secret: string): Application | undefined {
  const cached = verified.get(appId);
  if (!cached || cached.until <= Date.now()) return undefined;
  if (!timingSafeEqual(cached.digest, digestOf(appId, secret))) return undefined;
  // A container that had not verified the pair would have logged in to the database.
  noteSecretRead();
  return cached.app;
}

/**
 * Returns the application when `secret` is its secret, otherwise undefined. Unknown ids and
 * wrong secrets take the same path (a hash is computed either way).
 */
export async function authenticate(
  appId: string,
  secret: string,
): Promise<Application | undefined> {
  const cached = recentlyVerified(appId, secret);
  if (cached) return cached;
  const digest = digestOf(appId, secret);
  const { rows } = await chatDb().query<ApplicationRow & { secret_hash: string }>(
    `SELECT app_id, name, nightly_export, timezone, requests_per_second, max_open_jobs, secret_hash
     FROM applications WHERE app_id = $1`,
    [appId],
  );
  const row = rows[0];
  // Unknown applications still pay for one hash so that timing does not reveal which ids exist.
  const stored = row?.secret_hash ?? (await dummyHash());
  if (!(await secretMatches(secret, stored)) || !row) return undefined;
  const app = toApplication(row);
  verified.set(appId, { digest, until: Date.now() + VERIFIED_TTL_MS, app });
  return app;
}

let dummy: Promise<string> | undefined;
function dummyHash(): Promise<string> {
  dummy ??= hashSecret(randomBytes(16).toString("hex"));
  return dummy;
}

interface ApplicationRow {
  app_id: string;
  name: string;
  nightly_export: boolean;
  timezone: string;
  requests_per_second?: number | null;
  max_open_jobs?: number | null;
}

function toApplication(row: ApplicationRow): Application {
  const app: Application = {
    appId: row.app_id,
    name: row.name,
    nightlyExport: row.nightly_export,
    timezone: row.timezone,
  };
  if (row.requests_per_second || row.max_open_jobs) {
    app.limits = {
      ...(row.requests_per_second ? { requestsPerSecond: row.requests_per_second } : {}),
      ...(row.max_open_jobs ? { maxOpenJobs: row.max_open_jobs } : {}),
    };
  }
  return app;
}

/** Creates the application, or replaces its secret and name when it exists. */
export async function upsertApplication(input: {
  appId: string;
  secret: string;
  name?: string;
  nightlyExport?: boolean;
  timezone?: string;
}): Promise<void> {
  verified.delete(input.appId);
  await chatDb().query(
    `INSERT INTO applications (app_id, secret_hash, name, nightly_export, timezone)
     VALUES ($1, $2, $3, COALESCE($4, false), COALESCE($5, 'UTC'))
     ON CONFLICT (app_id) DO UPDATE SET secret_hash = EXCLUDED.secret_hash, name = EXCLUDED.name,
       nightly_export = COALESCE($4, applications.nightly_export),
       timezone = COALESCE($5, applications.timezone)`,
    [
      input.appId,
      await hashSecret(input.secret),
      input.name ?? input.appId,
      input.nightlyExport ?? null,
      input.timezone ?? null,
    ],
  );
}

/**
 * Gives one application its own request rate and open-job cap; null returns a limit to the
 * service's default. False when the app is unknown.
 */
export async function setApplicationLimits(
  appId: string,
  limits: { requestsPerSecond?: number | null; maxOpenJobs?: number | null },
): Promise<boolean> {
  verified.delete(appId);
  const result = await chatDb().query(
    `UPDATE applications SET
       requests_per_second = CASE WHEN $2 THEN $3::integer ELSE requests_per_second END,
       max_open_jobs = CASE WHEN $4 THEN $5::integer ELSE max_open_jobs END
     WHERE app_id = $1`,
    [
      appId,
      limits.requestsPerSecond !== undefined,
      limits.requestsPerSecond ?? null,
      limits.maxOpenJobs !== undefined,
      limits.maxOpenJobs ?? null,
    ],
  );
  return result.rowCount === 1;
}

/** Switches the nightly export of one application on or off; false when the app is unknown. */
export async function setNightlyExport(
  appId: string,
  enabled: boolean,
  timezone?: string,
): Promise<boolean> {
  verified.delete(appId);
  const result = await chatDb().query(
    "UPDATE applications SET nightly_export = $2, timezone = COALESCE($3, timezone) WHERE app_id = $1",
    [appId, enabled, timezone ?? null],
  );
  return result.rowCount === 1;
}

/** Every application with the nightly export (and backup) switched on. */
export async function listNightlyApplications(): Promise<Application[]> {
  const { rows } = await chatDb().query(
    "SELECT app_id, name, nightly_export, timezone, nightly_backups_kept FROM applications WHERE nightly_export ORDER BY app_id",
  );
  return rows.map((row) => ({
    ...toApplication(row),
    ...(row.nightly_backups_kept ? { nightlyBackupsKept: Number(row.nightly_backups_kept) } : {}),
  }));
}

/** Sets how many nightly backups the application keeps (null: the service's setting); false when unknown. */
export async function setNightlyBackupsKept(appId: string, kept: number | null): Promise<boolean> {
  const result = await chatDb().query(
    "UPDATE applications SET nightly_backups_kept = $2 WHERE app_id = $1",
    [appId, kept],
  );
  return result.rowCount === 1;
}
