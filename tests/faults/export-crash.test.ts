import { fork } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runExport } from "../../lib/exports/export-worker.ts";
import { jobStore } from "../../lib/jobs/job-store.ts";
import {
  download,
  getExport,
  insertManyComments,
  requestExport,
  sha256,
  takeExportMessage,
} from "../exports/export-fixtures.ts";
import { clock, newApp } from "../support/harness.ts";

const PART_BYTES = 5 * 1024 * 1024;

describe("a worker killed in the middle of an export", () => {
  // 60,000 rows: within 3 s the file may not end, so its parts carry a resumable hash state and a
  // retry goes on from the stored part; within 8 s it surely ends at the slowest assumed pace, so
  // it is hashed natively, and a retry (the hash state gone) writes it again in a new upload.
  it.each([
    ["resumably hashed", "goes on from the stored part", 3000, true],
    ["hashed natively", "writes it again from its start", 8000, false],
  ])(
    "given an export process (%s) killed after its first part, when the message comes back, then it %s and the file equals an undisturbed run byte for byte",
    async (_how, _then, budgetMs, resumable) => {
      const app = await newApp();
      // About 12 MB of comments: three parts of 5 MiB.
      await insertManyComments(app, 60000);

      const undisturbedId = await requestExport(app, { type: "comments" });
      const crashedId = await requestExport(app, { type: "comments" });

      const undisturbed = await takeExportMessage(undisturbedId);
      expect(await runExport(undisturbed, clock(900_000), { partBytes: PART_BYTES })).toBe(
        "finished",
      );

      const message = await takeExportMessage(crashedId);
      const child = fork(join(import.meta.dirname, "export-child.ts"), {
        execArgv: ["--import", "tsx"],
        env: { ...process.env, LEASE_MARGIN_MS: "0" },
        stdio: ["ignore", "ignore", "inherit", "ipc"],
      });
      const exited = new Promise((resolve) => child.once("exit", resolve));
      await new Promise<void>((resolve, reject) => {
        child.once("message", (reply: { part?: number }) =>
          reply.part ? resolve() : reject(new Error("finished too early")),
        );
        child.once("exit", () =>
          reject(new Error("the export process ended before its first part")),
        );
        child.send({ message, budgetMs, partBytes: PART_BYTES });
      });
      child.kill("SIGKILL");
      await exited;

      const halfway = await jobStore().get(app.appId, crashedId);
      expect(halfway?.status).toBe("processing");
      expect(halfway?.checkpoint?.parts.length).toBe(1);
      expect(Boolean(halfway?.checkpoint?.hashState)).toBe(resumable);

      // The dead worker's lease runs out; SQS delivers the same message again.
      const leaseUntil = halfway?.leaseUntil ?? 0;
      await new Promise((resolve) =>
        setTimeout(resolve, Math.max(0, leaseUntil - Date.now()) + 100),
      );
      const partsStoredOnResume: number[] = [];
      let beforeCompletion: typeof halfway;
      expect(
        await runExport(message, clock(900_000), {
          partBytes: PART_BYTES,
          onPart: ({ parts }) => {
            partsStoredOnResume.push(parts);
          },
          onComplete: async () => {
            beforeCompletion = await jobStore().get(app.appId, crashedId);
          },
        }),
      ).toBe("finished");

      if (resumable) {
        // The resumed run went on in the same upload from the stored part: part 1 was not written
        // again (a run starting over would store part 1 first), and the completed file's part 1 is
        // the one the killed process stored.
        expect(partsStoredOnResume[0]).toBe(2);
        expect(beforeCompletion?.checkpoint?.uploadId).toBe(halfway?.checkpoint?.uploadId);
        expect(beforeCompletion?.checkpoint?.parts[0]).toEqual(halfway?.checkpoint?.parts[0]);
      } else {
        // Without the hash of the stored part, the file starts again in an upload of its own.
        expect(partsStoredOnResume[0]).toBe(1);
        expect(beforeCompletion?.checkpoint?.uploadId).not.toBe(halfway?.checkpoint?.uploadId);
      }

      const [expected, actual] = [
        await download(app, undisturbedId),
        await download(app, crashedId),
      ];
      expect(actual.length).toBeGreaterThan(2 * PART_BYTES);
      expect(sha256(actual)).toBe(sha256(expected));
      const record = await getExport(app, crashedId);
      expect(record.total_rows).toBe(60000);
      expect(record.checksum_sha256).toBe(sha256(actual));
    },
    120_000,
  );
});
