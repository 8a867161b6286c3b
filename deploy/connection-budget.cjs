/**
 * The chat database's connection budget (docs/deploy.md#database-connections). Each function
 * that connects may run in at most `reserved` containers at once (its reserved concurrency), and
 * each container's pool opens at most `pool` connections (PG_POOL_MAX): the sum of reserved x
 * pool over all of them is the most connections the service can ever hold, and packaging fails
 * when it exceeds DB_CONNECTION_BUDGET (what the database or RDS Proxy allows this service).
 *
 * Pool sizes: an HTTP request uses one connection at a time (its authentication, then its
 * query), one more is spare; a worker holds up to three at once (an import: its job lock, its
 * transaction and the batched look-ups; a backup or an export: its snapshot, the names read in
 * that snapshot, and its progress).
 */
const HTTP_FUNCTIONS = [
  "exportsCreate",
  "exportsList",
  "exportsGet",
  "exportsDelete",
  "importsCreate",
  "importsUploadsCreate",
  "importsList",
  "importsGet",
  "backupsCreate",
  "backupsList",
  "backupsGet",
  "backupsDelete",
  "restoresCreate",
  "restoresList",
  "restoresGet",
];

function count(env, name, fallback) {
  const text = env[name];
  if (text === undefined || text === "") return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`${name} must be a whole number of at least 1, not "${text}"`);
  }
  return value;
}

module.exports.connections = ({ env = process.env } = {}) => {
  const budget = count(env, "DB_CONNECTION_BUDGET", 450);
  const workerPool = count(env, "WORKER_PG_POOL_MAX", 3);
  const http = {
    reserved: count(env, "HTTP_RESERVED_CONCURRENCY", 5),
    pool: count(env, "HTTP_PG_POOL_MAX", 2),
  };
  const plan = {
    ...Object.fromEntries(HTTP_FUNCTIONS.map((name) => [name, http])),
    exportWorker: { reserved: count(env, "EXPORT_WORKER_CONCURRENCY", 10), pool: workerPool },
    importWorker: { reserved: count(env, "IMPORT_WORKER_CONCURRENCY", 50), pool: workerPool },
    backupWorker: { reserved: count(env, "BACKUP_WORKER_CONCURRENCY", 10), pool: workerPool },
    nightlyExport: { reserved: 1, pool: 2 },
    // Drops a dead import's or restore's staging tables; one message at a time.
    deadLetter: { reserved: 2, pool: 2 },
  };
  const total = Object.values(plan).reduce((sum, { reserved, pool }) => sum + reserved * pool, 0);
  const terms = Object.entries(plan).map(
    ([name, { reserved, pool }]) => `${name} ${reserved}x${pool}`,
  );
  const summary = `${total} of ${budget} connections: ${terms.join(", ")}`;
  if (total > budget) {
    throw new Error(
      `the functions could open ${summary}; lower a reserved concurrency or pool size, or raise DB_CONNECTION_BUDGET`,
    );
  }
  const functions = Object.fromEntries(
    Object.entries(plan).map(([name, { reserved, pool }]) => [
      name,
      // An environment variable is text.
      { reserved, pool: String(pool) },
    ]),
  );
  return { budget, total, summary, functions };
};
