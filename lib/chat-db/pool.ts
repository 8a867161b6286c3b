import pg from "pg";
import { config, type DatabaseConfig } from "../config.ts";
import { CredentialedPool } from "./credentialed-pool.ts";
import { type LoginSource, secretLogin } from "./database-credentials.ts";
import { databaseTls } from "./database-tls.ts";

// Timestamps travel as PostgreSQL text (microsecond precision, UTC session) so that keyset
// cursors and exported values never lose precision through a JavaScript Date.
pg.types.setTypeParser(pg.types.builtins.TIMESTAMPTZ, (value) => value);
// bigint ids fit comfortably in a double for any realistic chat database.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

let pool: pg.Pool | undefined;

/** How many connections a pool keeps, and the server-side timeouts every one of them carries. */
export interface ChatPoolLimits {
  max: number;
  timeouts?: { statementMs: number; lockMs: number; idleInTransactionMs: number };
}

/**
 * A pool on the chat database that `database` describes: the login from its Secrets Manager
 * secret (`database-credentials.ts`, read again after a rotation), TLS as DATABASE_TLS says.
 */
export function createChatPool(
  database: DatabaseConfig,
  limits: ChatPoolLimits,
  login: LoginSource = secretLogin(database),
): CredentialedPool {
  const timeouts = limits.timeouts;
  const created = new CredentialedPool(
    {
      max: limits.max,
      options: "-c TimeZone=UTC",
      idleTimeoutMillis: 30000,
      ssl: databaseTls(database),
      statement_timeout: timeouts?.statementMs || undefined,
      lock_timeout: timeouts?.lockMs || undefined,
      idle_in_transaction_session_timeout: timeouts?.idleInTransactionMs || undefined,
    },
    login,
  );
  // An idle client losing its connection must not crash the process.
  created.on("error", () => {});
  return created;
}

/**
 * The chat database connection pool, created once per container. Every connection carries
 * server-side timeouts (PG_STATEMENT_TIMEOUT_MS, PG_LOCK_TIMEOUT_MS,
 * PG_IDLE_IN_TRANSACTION_TIMEOUT_MS): no statement, lock wait or abandoned transaction of a
 * stuck or vanished worker holds the database for longer.
 */
export function chatDb(): pg.Pool {
  if (!pool) {
    const { database, pgPoolMax, pgTimeouts } = config();
    pool = createChatPool(database, { max: pgPoolMax, timeouts: pgTimeouts });
  }
  return pool;
}

/** Closes the pool (local runner and tests). */
export async function closeChatDb(): Promise<void> {
  const current = pool;
  pool = undefined;
  await current?.end();
}

/**
 * Runs `work` inside one transaction on one connection; rolls back on any error. A connection
 * that fails meanwhile (server restart, terminated backend) is discarded, never pooled again.
 */
export async function inTransaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await chatDb().connect();
  let broken: Error | undefined;
  // Without a listener, a connection error while the client is checked out would crash the process.
  const onError = (error: Error) => {
    broken = error;
  };
  client.on("error", onError);
  try {
    await client.query("BEGIN");
    const result = await work(client);
    await client.query("COMMIT");
    return result;
  } catch (error) {
    broken ??= error instanceof Error && isConnectionError(error) ? error : undefined;
    if (!broken) await client.query("ROLLBACK").catch(() => {});
    throw error;
  } finally {
    // A broken connection may still report its end later: it keeps its listener and is destroyed.
    if (!broken) client.off("error", onError);
    client.release(broken);
  }
}

function isConnectionError(error: Error): boolean {
  const code = (error as { code?: string }).code ?? "";
  return (
    code.startsWith("57P") || code.startsWith("08") || /Connection terminated/i.test(error.message)
  );
}
