import { fork } from "node:child_process";
import { chmodSync, mkdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { type AwsDirs, type AwsPorts, startAwsEmulators } from "./aws-emulators.ts";
import { startLocalPostgres } from "./postgres.ts";

export interface EmulatorPorts {
  postgres: number;
  dynamodb: number;
  sqs: number;
  s3: number;
  secretsManager: number;
}

/** Where the local chat database listens and its login user (the password is the caller's). */
export interface LocalDatabase {
  host: string;
  port: number;
  name: string;
  user: string;
}

export interface Emulators {
  ports: EmulatorPorts;
  database: LocalDatabase;
  stop(): Promise<void>;
}

/** A free TCP port on the loopback interface. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const DB_USER = "postgres";

/** Forks the AWS emulator host and waits until its servers listen. */
function startAwsEmulatorHost(ports: AwsPorts, dirs: AwsDirs): Promise<() => Promise<void>> {
  const child = fork(join(import.meta.dirname, "aws-emulator-host.ts"), {
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  return new Promise((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`AWS emulators exited early (${code})`)));
    child.once("message", (message: { ready?: boolean; error?: string }) => {
      if (!message.ready) return reject(new Error(`AWS emulators failed: ${message.error}`));
      child.removeAllListeners("exit");
      resolve(
        () =>
          new Promise<void>((done) => {
            child.once("exit", () => done());
            child.disconnect();
          }),
      );
    });
    child.send({ ports, dirs });
  });
}
const DB_NAME = "chat";

/**
 * Starts embedded PostgreSQL, DynamoDB (dynalite), SQS (fauxqs), S3 (s3rver) and Secrets Manager on loopback,
 * keeping their state under `stateDir`. A port of 0 picks a free one.
 */
export async function startEmulators(options: {
  stateDir: string;
  ports: EmulatorPorts;
  dbPassword: string;
  fresh?: boolean;
  persistent?: boolean;
  /** Run the AWS emulators in a child process (their own core); default in-process. */
  awsInChildProcess?: boolean;
  /** Extra PostgreSQL server settings, e.g. `{ autovacuum: "off" }`. */
  postgresSettings?: Record<string, string>;
  /** Where the S3 emulator keeps its objects (default: `s3` under `stateDir`). */
  s3Dir?: string;
  /** Keep DynamoDB's tables and S3's objects across restarts, as the chat database is kept. */
  keepAwsState?: boolean;
}): Promise<Emulators> {
  const { stateDir } = options;
  if (options.fresh) rmSync(stateDir, { recursive: true, force: true });
  mkdirSync(stateDir, { recursive: true });
  // As root, PostgreSQL runs as a separate `postgres` user that must reach its data directory.
  chmodSync(stateDir, 0o755);
  const ports: EmulatorPorts = {
    postgres: options.ports.postgres || (await freePort()),
    dynamodb: options.ports.dynamodb || (await freePort()),
    sqs: options.ports.sqs || (await freePort()),
    s3: options.ports.s3 || (await freePort()),
    secretsManager: options.ports.secretsManager || (await freePort()),
  };
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const fn of stops.reverse()) await fn().catch(() => {});
  };
  try {
    const postgres = await startLocalPostgres({
      dataDir: join(stateDir, "postgres"),
      port: ports.postgres,
      user: DB_USER,
      password: options.dbPassword,
      database: DB_NAME,
      persistent: options.persistent ?? true,
      settings: options.postgresSettings,
    });
    stops.push(postgres.stop);

    const s3Dir = options.s3Dir ?? join(stateDir, "s3");
    const awsPorts = {
      dynamodb: ports.dynamodb,
      sqs: ports.sqs,
      s3: ports.s3,
      secretsManager: ports.secretsManager,
    };
    const dirs: AwsDirs = {
      s3Dir,
      dynamoDir: options.keepAwsState ? join(stateDir, "dynamodb") : undefined,
    };
    stops.push(
      options.awsInChildProcess
        ? await startAwsEmulatorHost(awsPorts, dirs)
        : await startAwsEmulators(awsPorts, dirs),
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    ports,
    database: { host: "127.0.0.1", port: ports.postgres, name: DB_NAME, user: DB_USER },
    stop,
  };
}
