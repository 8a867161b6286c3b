import { fork } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runBackup } from "../../lib/backups/backup-worker.ts";
import { jobStore } from "../../lib/jobs/job-store.ts";
import {
  fetchBytes,
  getBackup,
  requestBackup,
  rowsOf,
  sha256,
  takeBackupMessage,
} from "../backups/backup-fixtures.ts";
import { insertComment, insertManyComments } from "../exports/export-fixtures.ts";
import { clock, newApp } from "../support/harness.ts";

const PART_BYTES = 5 * 1024 * 1024;

describe("a worker killed in the middle of a backup", () => {
  it("given a backup process killed after the first part of its comments, when the message comes back, then it goes on from the stored part, holds nothing written after the cut, and its files equal an undisturbed backup's", async () => {
    const app = await newApp();
    // About 12 MB of comments: three parts of 5 MiB.
    const { userId, roomId } = await insertManyComments(app, 60000);

    const undisturbedId = await requestBackup(app);
    const crashedId = await requestBackup(app);
    const undisturbed = await takeBackupMessage(undisturbedId);
    expect(await runBackup(undisturbed, clock(900_000), { partBytes: PART_BYTES })).toBe(
      "finished",
    );

    const message = await takeBackupMessage(crashedId);
    const child = fork(join(import.meta.dirname, "backup-child.ts"), {
      execArgv: ["--import", "tsx"],
      env: { ...process.env, LEASE_MARGIN_MS: "0" },
      stdio: ["ignore", "ignore", "inherit", "ipc"],
    });
    const exited = new Promise((resolve) => child.once("exit", resolve));
    await new Promise<void>((resolve, reject) => {
      child.once("message", (reply: { part?: number }) =>
        reply.part ? resolve() : reject(new Error("finished too early")),
      );
      child.once("exit", () => reject(new Error("the backup process ended before its first part")));
      child.send({ message, partBytes: PART_BYTES });
    });
    child.kill("SIGKILL");
    await exited;

    const halfway = await jobStore().get(app.appId, crashedId);
    expect(halfway?.status).toBe("processing");
    expect(halfway?.resource).toBe("comments");
    expect(halfway?.checkpoint?.parts.length).toBe(1);
    expect(halfway?.backup?.files.users).toBeDefined();
    // Written after the cut: in no file of this backup.
    await insertComment(app, {
      roomId,
      userId,
      uniqueId: "after-the-cut",
      // Last in the file's order, after the stored position.
      createdAt: "2030-01-01T00:00:00Z",
    });

    // The dead worker's lease runs out; SQS delivers the same message again.
    const leaseUntil = halfway?.leaseUntil ?? 0;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, leaseUntil - Date.now()) + 100));
    const partsStoredOnResume: number[] = [];
    expect(
      await runBackup(message, clock(900_000), {
        partBytes: PART_BYTES,
        onPart: ({ resource, parts }) => {
          if (resource === "comments") partsStoredOnResume.push(parts);
        },
      }),
    ).toBe("finished");
    // Went on in the same upload from the stored part: part 1 was not written again.
    expect(partsStoredOnResume[0]).toBe(2);

    const [expected, actual] = [
      await getBackup(app, undisturbedId),
      await getBackup(app, crashedId),
    ];
    expect(actual).toMatchObject({ status: "finished", percentage: 100 });
    // The cut is the first invocation's (the API shows it to the second).
    const cutAt = Date.parse(halfway?.backup?.cut?.at ?? "");
    expect(Date.parse(actual.cut_at)).toBe(Math.floor(cutAt / 1000) * 1000);
    for (const resource of ["users", "rooms", "comments"] as const) {
      const bytes = await fetchBytes(actual.files[resource].download_url);
      expect(sha256(bytes)).toBe(actual.files[resource].sha256);
      expect(actual.files[resource].sha256).toBe(expected.files[resource].sha256);
    }
    const comments = rowsOf(await fetchBytes(actual.files.comments.download_url));
    expect(comments).toHaveLength(60000);
    expect(comments.some((comment) => comment.UniqueId === "after-the-cut")).toBe(false);
  }, 120_000);
});
