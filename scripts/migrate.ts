import { migrate } from "../lib/chat-db/migrate.ts";
import { createChatPool } from "../lib/chat-db/pool.ts";
import { loadDatabaseConfig } from "../lib/config.ts";

/**
 * Applies `migrations/` to the chat database, logging in as the functions do: DATABASE_HOST,
 * DATABASE_PORT, DATABASE_NAME, DATABASE_SECRET_ARN, DATABASE_TLS and DATABASE_CA_BUNDLE, with
 * AWS credentials that may read the secret (docs/deploy.md). The password is never typed.
 */
let pool: ReturnType<typeof createChatPool>;
try {
  pool = createChatPool(loadDatabaseConfig(process.env), { max: 1 });
} catch (error) {
  console.error((error as Error).message);
  process.exit(2);
}
try {
  const client = await pool.connect();
  try {
    const applied = await migrate(client);
    console.log(
      applied.length ? `applied: ${applied.join(", ")}` : "the chat database is up to date",
    );
  } finally {
    client.release();
  }
} finally {
  await pool.end();
}
