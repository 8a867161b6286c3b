import { describe, expect, it } from "vitest";
import { chatDb } from "../../lib/chat-db/pool.ts";
import { CopyWriter } from "../../lib/chat-db/staging.ts";
import { busyBackends } from "../imports/hostile.ts";

describe("a COPY that PostgreSQL rejects leaves nothing behind", () => {
  it("given a row PostgreSQL refuses, when the COPY is closed and then abandoned, then no error escapes, no COPY or lock is left, and the table drops at once", async () => {
    const table = `copy_writer_${Date.now()}`;
    await chatDb().query(`CREATE TABLE ${table} (row integer, message text)`);
    const writer = await CopyWriter.open(chatDb(), table, ["row", "message"]);
    await writer.write([0, "fine"]);
    await writer.write([1, "Halo\u0000doc"]);
    await expect(writer.close()).rejects.toThrow(/0x00/);
    // The cleanup of a failed load abandons every writer it opened, closed or not.
    expect(() => writer.abort()).not.toThrow();
    expect(() => writer.abort()).not.toThrow();
    const started = performance.now();
    await chatDb().query(`DROP TABLE ${table}`);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(await busyBackends()).toEqual([]);
  });

  it("given a COPY abandoned in the middle, then its connection is destroyed, not pooled, and its lock is gone", async () => {
    const table = `copy_writer_mid_${Date.now()}`;
    await chatDb().query(`CREATE TABLE ${table} (row integer, message text)`);
    const pool = chatDb();
    const writer = await CopyWriter.open(pool, table, ["row", "message"]);
    await writer.write([0, "x".repeat(300_000)]);
    writer.abort();
    const started = performance.now();
    await pool.query(`DROP TABLE ${table}`);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(await busyBackends()).toEqual([]);
  });

  it("given a worker connection, then it carries statement, lock and idle-in-transaction timeouts", async () => {
    const { rows } = await chatDb().query(
      "SELECT current_setting('statement_timeout') AS s, current_setting('lock_timeout') AS l, current_setting('idle_in_transaction_session_timeout') AS i",
    );
    expect(rows[0]).toEqual({ s: "5min", l: "30s", i: "1min" });
  });
});
