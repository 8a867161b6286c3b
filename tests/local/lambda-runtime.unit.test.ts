import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { ROOT_DIR } from "../../scripts/local/stack.ts";

describe("the local Lambda runtime", () => {
  it("given functions running at once in one process, then each log line carries its own function and keys and every handler runs", async () => {
    // A process of its own, like `npm start`: the logger there is the one the functions share.
    const { stderr } = await promisify(execFile)(
      process.execPath,
      ["--import", "tsx", "tests/support/fixtures/two-functions.ts"],
      { cwd: ROOT_DIR, env: { ...process.env, NODE_NO_WARNINGS: "1" } },
    );
    const lines = stderr
      .split("\n")
      .filter((line) => line.includes("fixture line"))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.map((line) => [line.function_name, line.job_id])).toEqual([
      ["exportsGet", "job-fast"],
      ["exportWorker", "job-slow"],
    ]);
  });
});
