import { availableParallelism } from "node:os";

/**
 * Service configuration, read once from the environment and validated at start-up.
 * Endpoints of local emulators are plain settings here: the code path is the same in AWS.
 */

export interface Config {
  region: string;
  jobsTable: string;
  bucketName: string;
  /** Only the functions that send or receive job messages have their queue's URL. */
  exportQueueUrl?: string;
  importQueueUrl?: string;
  backupQueueUrl?: string;
  /** Where the chat database is and how its credentials and TLS are found. */
  database: DatabaseConfig;
  /** Per-service endpoint overrides (local emulators); undefined in AWS. */
  endpoints: { dynamodb?: string; sqs?: string; s3?: string };
  s3ForcePathStyle: boolean;
  /** Offset in which timestamps are displayed, e.g. `+00:00` or `+07:00`. */
  displayUtcOffset: string;
  downloadUrlTtlSeconds: number;
  retentionDays: number;
  bcryptCost: number;
  /** Rows per COPY statement an export reads from PostgreSQL. */
  exportPageRows: number;
  /** Size of one multipart-upload part (S3 minimum is 5 MiB). */
  exportPartBytes: number;
  /** An export worker checkpoints when the invocation has less than this left. */
  exportReserveMillis: number;
  /** An export of more rows than this is split into key ranges worked in parallel. */
  exportParallelRows: number;
  /** At most this many key ranges per export. */
  exportRanges: number;
  /** A worker's lease on a job outlives its invocation by this much; a crashed holder frees the job then. */
  leaseMarginMillis: number;
  /** An import worker saves its hashing progress and hands over when less than this is left. */
  importReserveMillis: number;
  hashThreads: number;
  /** Deliveries of a job message before SQS moves it to the dead-letter queue. */
  maxReceiveCount: number;
  /** PostgreSQL connections per container. */
  pgPoolMax: number;
  /** Fair use (docs/security.md): the defaults of every application, each may have its own. */
  limits: {
    /** Requests one application may make per second, across all containers (DynamoDB counter). */
    requestsPerSecond: number;
    /** Open (`started` or `processing`) jobs one application may have of each kind. */
    maxOpenJobs: number;
    /** Wrong secrets per minute from one source for one application id before refusals are 429. */
    authFailuresPerMinute: number;
  };
  /** Nightly backups kept per application unless the application sets its own number. */
  nightlyBackupsKept: number;
  /** Days an API-triggered backup (record and files) is kept. */
  backupRetentionDays: number;
  /** Limits on what an import file may hold (SPEC 11); each breach fails with a sentence naming it. */
  importLimits: ImportLimits;
  /** Server-side timeouts on every chat database connection, in milliseconds (0: none). */
  pgTimeouts: { statementMs: number; lockMs: number; idleInTransactionMs: number };
  /** A job message that failed for a reason a retry may cure comes again after this backoff. */
  retryBackoff: { baseSeconds: number; maxSeconds: number };
  /** Days after which a nightly backup's record and files expire whatever the schedule does. */
  nightlyBackupExpiryDays: number;
  /** The schedule also makes the old per-type exports of yesterday. */
  nightlyDaySlices: boolean;
  /**
   * Where every AWS SDK command of a function is written down (AWS_CALL_RECORD_DIR, local test
   * runs only: `lib/aws/call-recorder.ts`); undefined records nothing.
   */
  awsCallRecordDir?: string;
}

/**
 * TLS to the chat database: `verify-full` checks the server's certificate chain against the CA
 * bundle and its name against the host; `verify-ca` the chain only (a tunnel to another name);
 * `off` speaks plain TCP (the local stack). There is no encrypted-but-unchecked mode.
 */
export type DatabaseTls = "verify-full" | "verify-ca" | "off";

/**
 * The chat database (docs/deploy.md). The credentials are never configuration: they are read from
 * the Secrets Manager secret (RDS format `{username, password, host, port, dbname}`) when the
 * first connection of a container opens, and read again when a login is refused.
 */
export interface DatabaseConfig {
  region: string;
  /** DATABASE_HOST, e.g. the RDS Proxy endpoint; unset: the secret's `host`. */
  host?: string;
  /** DATABASE_PORT; unset: the secret's `port`, else 5432. */
  port?: number;
  /** DATABASE_NAME; unset: the secret's `dbname`. */
  name?: string;
  /** DATABASE_SECRET_ARN: the secret holding the username and password. */
  secretArn: string;
  /** The secret is read again after this many seconds even if no login failed. */
  secretMaxAgeSeconds: number;
  tls: DatabaseTls;
  /** DATABASE_CA_BUNDLE: a PEM file of trusted CAs; unset: the RDS and RDS Proxy CAs shipped with the code. */
  caBundlePath?: string;
  /** AWS_ENDPOINT_URL_SECRETS_MANAGER (the local emulator); undefined in AWS. */
  secretsManagerEndpoint?: string;
}

export interface ImportLimits {
  /** Bytes of JSON of one row (IMPORT_MAX_ROW_BYTES). */
  rowBytes: number;
  /** Nesting levels of a comment's Payload (IMPORT_MAX_PAYLOAD_DEPTH). */
  payloadDepth: number;
  /** Bytes a gzip file sent in a form may inflate to (IMPORT_MAX_FORM_INFLATED_BYTES). */
  formInflatedBytes: number;
  /** Bytes an uploaded gzip file may inflate to (IMPORT_MAX_INFLATED_BYTES). */
  uploadInflatedBytes: number;
}

/** Raised when the environment does not describe a usable configuration. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

type Env = Record<string, string | undefined>;

function required(env: Env, name: string): string {
  const value = env[name];
  if (!value) throw new ConfigError(`environment variable ${name} is required`);
  return value;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer between ${min} and ${max}, got "${raw}"`);
  }
  return value;
}

function offset(env: Env, name: string): string {
  const raw = env[name] ?? "+00:00";
  if (!/^[+-](0\d|1[0-4]):[0-5]\d$/.test(raw)) {
    throw new ConfigError(`${name} must look like +07:00 or -05:30, got "${raw}"`);
  }
  return raw;
}

/** Builds the configuration from an environment map; throws ConfigError when invalid. */
export function loadConfig(env: Env = process.env): Config {
  const cpuCount = availableParallelism();
  return {
    region: env.AWS_REGION ?? "us-east-1",
    jobsTable: required(env, "JOBS_TABLE"),
    bucketName: required(env, "BUCKET_NAME"),
    exportQueueUrl: env.EXPORT_QUEUE_URL || undefined,
    importQueueUrl: env.IMPORT_QUEUE_URL || undefined,
    backupQueueUrl: env.BACKUP_QUEUE_URL || undefined,
    database: loadDatabaseConfig(env),
    endpoints: {
      dynamodb: env.AWS_ENDPOINT_URL_DYNAMODB || undefined,
      sqs: env.AWS_ENDPOINT_URL_SQS || undefined,
      s3: env.AWS_ENDPOINT_URL_S3 || undefined,
    },
    s3ForcePathStyle: env.S3_FORCE_PATH_STYLE === "true",
    displayUtcOffset: offset(env, "DISPLAY_UTC_OFFSET"),
    downloadUrlTtlSeconds: integer(env, "DOWNLOAD_URL_TTL_SECONDS", 3600, 1, 604800),
    retentionDays: integer(env, "RETENTION_DAYS", 30, 1, 3650),
    bcryptCost: integer(env, "BCRYPT_COST", 10, 4, 15),
    exportPageRows: integer(env, "EXPORT_PAGE_ROWS", 50000, 1, 1000000),
    exportPartBytes: integer(env, "EXPORT_PART_BYTES", 8 * 1024 * 1024, 5 * 1024 * 1024, 512 << 20),
    exportReserveMillis: integer(env, "EXPORT_RESERVE_MS", 60000, 0, 900000),
    exportParallelRows: integer(env, "EXPORT_PARALLEL_ROWS", 2_000_000, 1, 1_000_000_000),
    exportRanges: integer(env, "EXPORT_RANGES", 4, 1, 100),
    leaseMarginMillis: integer(env, "LEASE_MARGIN_MS", 30000, 0, 900000),
    importReserveMillis: integer(env, "IMPORT_RESERVE_MS", 60000, 0, 900000),
    hashThreads: integer(env, "HASH_THREADS", cpuCount, 1, 64),
    maxReceiveCount: integer(env, "MAX_RECEIVE_COUNT", 5, 1, 1000),
    pgPoolMax: integer(env, "PG_POOL_MAX", 4, 1, 100),
    nightlyBackupsKept: integer(env, "NIGHTLY_BACKUPS_KEPT", 7, 1, 366),
    backupRetentionDays: integer(env, "BACKUP_RETENTION_DAYS", 30, 1, 3650),
    importLimits: {
      rowBytes: integer(env, "IMPORT_MAX_ROW_BYTES", 1024 * 1024, 1024, 256 * 1024 * 1024),
      payloadDepth: integer(env, "IMPORT_MAX_PAYLOAD_DEPTH", 32, 1, 1000),
      formInflatedBytes: integer(env, "IMPORT_MAX_FORM_INFLATED_BYTES", 64 * 1024 ** 2, 1, 2 ** 40),
      uploadInflatedBytes: integer(env, "IMPORT_MAX_INFLATED_BYTES", 64 * 1024 ** 3, 1, 2 ** 50),
    },
    pgTimeouts: {
      statementMs: integer(env, "PG_STATEMENT_TIMEOUT_MS", 300_000, 0, 3_600_000),
      lockMs: integer(env, "PG_LOCK_TIMEOUT_MS", 30_000, 0, 3_600_000),
      idleInTransactionMs: integer(env, "PG_IDLE_IN_TRANSACTION_TIMEOUT_MS", 60_000, 0, 3_600_000),
    },
    retryBackoff: {
      baseSeconds: integer(env, "JOB_RETRY_BASE_SECONDS", 10, 0, 43_200),
      maxSeconds: integer(env, "JOB_RETRY_MAX_SECONDS", 300, 0, 43_200),
    },
    nightlyBackupExpiryDays: integer(env, "NIGHTLY_BACKUP_EXPIRY_DAYS", 21, 1, 3650),
    nightlyDaySlices: env.NIGHTLY_DAY_SLICES === "true",
    awsCallRecordDir: env.AWS_CALL_RECORD_DIR || undefined,
    limits: {
      requestsPerSecond: integer(env, "APP_REQUESTS_PER_SECOND", 20, 1, 1_000_000),
      maxOpenJobs: integer(env, "APP_MAX_OPEN_JOBS", 3, 1, 1_000_000),
      authFailuresPerMinute: integer(env, "AUTH_FAILURES_PER_MINUTE", 10, 1, 1_000_000),
    },
  };
}

const TLS_MODES: readonly DatabaseTls[] = ["verify-full", "verify-ca", "off"];

/** The chat database's settings alone (also for `npm run migrate`); throws ConfigError when invalid. */
export function loadDatabaseConfig(env: Env = process.env): DatabaseConfig {
  const tls = (env.DATABASE_TLS || "verify-full") as DatabaseTls;
  if (!TLS_MODES.includes(tls)) {
    throw new ConfigError(`DATABASE_TLS must be one of ${TLS_MODES.join(", ")}, got "${tls}"`);
  }
  return {
    region: env.AWS_REGION ?? "us-east-1",
    host: env.DATABASE_HOST || undefined,
    port: env.DATABASE_PORT ? integer(env, "DATABASE_PORT", 5432, 1, 65535) : undefined,
    name: env.DATABASE_NAME || undefined,
    secretArn: required(env, "DATABASE_SECRET_ARN"),
    secretMaxAgeSeconds: integer(env, "DATABASE_SECRET_MAX_AGE_SECONDS", 900, 1, 86_400),
    tls,
    caBundlePath: env.DATABASE_CA_BUNDLE || undefined,
    secretsManagerEndpoint: env.AWS_ENDPOINT_URL_SECRETS_MANAGER || undefined,
  };
}

let current: Config | undefined;
let currentDatabase: DatabaseConfig | undefined;

/**
 * The process-wide configuration, read from the environment once. Every function reads it when
 * its handler is created (`apiHandler`, `instrumented`), i.e. at cold start, so that a wrong
 * setting fails the start rather than a request.
 */
export function config(): Config {
  current ??= loadConfig();
  return current;
}

/**
 * The chat database's settings, read from the environment once: `config().database` when the
 * whole configuration is loaded, else on their own (scripts that touch only the database).
 */
export function databaseConfig(): DatabaseConfig {
  currentDatabase ??= current?.database ?? loadDatabaseConfig();
  return currentDatabase;
}
