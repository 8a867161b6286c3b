import { chatDb } from "../chat-db/pool.ts";

/**
 * Runs `work` while holding the job's advisory lock, so that two deliveries of one job never
 * fill its staging tables at once; the second waits, then finds the job done (or goes on from
 * where the first stopped).
 */
export async function withJobLock<T>(jobId: string, work: () => Promise<T>): Promise<T> {
  const key = `import-job:${jobId}`;
  for (;;) {
    const client = await chatDb().connect();
    let locked = false;
    try {
      const { rows } = await client.query<{ locked: boolean }>(
        "SELECT pg_try_advisory_lock(hashtext($1)) AS locked",
        [key],
      );
      locked = rows[0]?.locked === true;
      if (locked) return await work();
    } finally {
      if (locked)
        await client.query("SELECT pg_advisory_unlock(hashtext($1))", [key]).catch(() => {});
      client.release();
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
