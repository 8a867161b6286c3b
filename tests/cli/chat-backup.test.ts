import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { countRows } from "../imports/support.ts";
import { newApp, type TestApp } from "../support/harness.ts";
import {
  apiUrl,
  assertAnswersDocumented,
  BIN,
  chatBackup,
  cliEnv,
  deliverJobMessages,
  run,
  sampleData,
  withoutDatabaseIds,
} from "./support.ts";

const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");
const lines = (text: string) => text.split("\n").filter(Boolean);
const json = (path: string) => JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>[];

let work: string;
let stopDelivery: () => Promise<void>;
let source: TestApp;
let target: TestApp;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "chat-backup-cli-"));
  stopDelivery = deliverJobMessages();
  source = await newApp();
  target = await newApp();
});

afterAll(async () => {
  await stopDelivery?.();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("chat-backup", () => {
  it("shows its help from any directory", async () => {
    const result = await chatBackup(["--help"], { cwd: tmpdir() });
    expect(result.code).toBe(0);
    for (const command of ["export", "import", "backup", "restore", "jobs"]) {
      expect(result.stdout).toContain(command);
    }
  });

  it("given an application seeded with the command line, when it is backed up and restored into another, then an export of the other equals the backup but for database ids", async () => {
    const data = sampleData(source.appId);
    for (const type of ["users", "rooms", "comments"] as const) {
      const file = join(work, `seed-${type}.json`);
      writeFileSync(file, JSON.stringify(data[type]));
      const result = await chatBackup(["import", type, file], { app: source, cwd: work });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain(`imported ${data[type].length} ${type} from ${file}`);
      // Not on a terminal: one plain line per step, no bar.
      const steps = lines(result.stderr);
      expect(steps[0]).toMatch(new RegExp(`^upload ${type}: [\\d.]+ (B|KiB) in [\\d.]+ s$`));
      expect(steps[1]).toMatch(new RegExp(`^import ${type}: started [0-9a-f-]{36}$`));
      expect(steps.at(-1)).toMatch(
        new RegExp(`^import ${type}: finished, ${data[type].length} rows in [\\d.]+ s$`),
      );
      expect(result.stderr).not.toContain("\u001b[");
    }

    const backup = join(work, "backup");
    const made = await chatBackup(["backup", backup], { app: source, cwd: work });
    expect(made.code, made.stderr).toBe(0);
    const manifest = JSON.parse(readFileSync(join(backup, "manifest.json"), "utf8"));
    expect(manifest).toMatchObject({ app_id: source.appId, format: "chat-backup/1" });
    expect(Date.parse(manifest.created_at)).toBeGreaterThan(Date.now() - 120_000);
    for (const type of ["users", "rooms", "comments"] as const) {
      const entry = manifest.files[type];
      const file = join(backup, `${type}.json`);
      expect(entry).toMatchObject({ file: `${type}.json`, rows: data[type].length });
      expect(entry.bytes).toBe(readFileSync(file).length);
      expect(entry.sha256).toBe(sha256(file));
    }
    expect(made.stderr).toMatch(/download users: .* -> .*users\.json \(sha256 ok\)/);

    const dryRun = await chatBackup(["restore", backup, "--dry-run"], { app: target, cwd: work });
    expect(dryRun.code, dryRun.stdout + dryRun.stderr).toBe(0);
    expect(dryRun.stdout).toContain(`dry run: the backup would restore ${source.appId}`);
    expect(await countRows(target.appId, "users")).toBe(0);

    const restored = await chatBackup(["restore", backup], { app: target, cwd: work });
    expect(restored.code, restored.stdout + restored.stderr).toBe(0);
    expect(lines(restored.stderr).slice(0, 3)).toEqual([
      expect.stringMatching(/^verify users\.json: .* \(sha256 ok\)$/),
      expect.stringMatching(/^verify rooms\.json: .* \(sha256 ok\)$/),
      expect.stringMatching(/^verify comments\.json: .* \(sha256 ok\)$/),
    ]);
    const order = lines(restored.stderr)
      .filter((line) => / finished, /.test(line))
      .map((line) => line.split(":")[0]);
    expect(order).toEqual(["import users", "import rooms", "import comments"]);

    for (const type of ["users", "rooms", "comments"] as const) {
      const file = join(work, `again-${type}.json`);
      const exported = await chatBackup(["export", type, "-o", file, "--json"], {
        app: target,
        cwd: work,
      });
      expect(exported.code, exported.stderr).toBe(0);
      expect(JSON.parse(exported.stdout)).toMatchObject({
        type,
        rows: data[type].length,
        sha256: sha256(file),
      });
      expect(withoutDatabaseIds(json(file))).toEqual(
        withoutDatabaseIds(json(join(backup, `${type}.json`))),
      );
    }
  });

  it("given a file that breaks the rules, when imported, then every row error is printed and the exit code is 1", async () => {
    const app = await newApp();
    const file = join(work, "bad-users.json");
    writeFileSync(
      file,
      JSON.stringify([
        { Email: "not-an-address", Name: "A", AuthenticationToken: "t1", Password: "x" },
        { Email: "b@example.com", Name: "B", AuthenticationToken: "t2", Password: "x" },
        { Email: "c@example.com", Name: "C", AuthenticationToken: "t2", Password: "x" },
      ]),
    );
    const result = await chatBackup(["import", "users", file], { app, cwd: work });
    expect(result.code).toBe(1);
    expect(lines(result.stdout)).toEqual([
      "import users failed: 2 of 3 users rows break the import rules, so nothing was imported.",
      "  row 0  Email: Email must be a valid email",
      "  row 2  AuthenticationToken: AuthenticationToken is already used by row 1 of this file",
    ]);
    expect(lines(result.stderr).at(-1)).toBe(
      `chat-backup: import of users from ${file} failed, nothing was imported`,
    );
    expect(await countRows(app.appId, "users")).toBe(0);
  });

  it("given a wrong secret, then one line and exit code 2", async () => {
    const result = await chatBackup(["jobs"], {
      app: { appId: source.appId, secret: "not-the-secret" },
      cwd: work,
    });
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(lines(result.stderr)).toEqual([
      expect.stringMatching(/^chat-backup: unauthorized: .*\(HTTP 401\)$/),
    ]);
  });

  it("given no server at the address, then one line and exit code 2", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(closed.address() as { port: number }).port}`;
    await new Promise((resolve) => closed.close(resolve));
    const result = await chatBackup(["jobs"], { app: source, cwd: work, url });
    expect(result.code).toBe(2);
    expect(lines(result.stderr)).toEqual([`chat-backup: cannot reach ${url}: ECONNREFUSED`]);
  });

  it("given a backup whose file changed, when restored, then nothing is imported and the exit code is 1", async () => {
    const app = await newApp();
    const backup = join(work, "tampered");
    const made = await chatBackup(["backup", backup], { app: source, cwd: work });
    expect(made.code, made.stderr).toBe(0);
    writeFileSync(join(backup, "rooms.json"), "[]\n");
    const result = await chatBackup(["restore", backup], { app, cwd: work });
    expect(result.code).toBe(1);
    expect(lines(result.stderr).at(-1)).toMatch(
      /^chat-backup: rooms\.json does not match the manifest .*nothing was imported$/,
    );
    expect(await countRows(app.appId, "users")).toBe(0);
  });

  it("given a manifest naming a file outside its directory, when restored, then exit code 2 and nothing read", async () => {
    const backup = join(work, "escaping");
    mkdirSync(backup);
    const entry = { file: "../seed-users.json", rows: 1, bytes: 1, sha256: "0".repeat(64) };
    writeFileSync(
      join(backup, "manifest.json"),
      JSON.stringify({
        format: "chat-backup/1",
        app_id: source.appId,
        created_at: new Date().toISOString(),
        files: { users: entry, rooms: { ...entry, file: "rooms.json" }, comments: entry },
      }),
    );
    const result = await chatBackup(["restore", backup], { app: target, cwd: work });
    expect(result.code).toBe(2);
    expect(lines(result.stderr)).toEqual([
      expect.stringMatching(
        /^chat-backup: .*manifest\.json is not a backup manifest: files\.users\.file must match pattern/,
      ),
    ]);
  });

  it("given a file above 4 MiB, when imported, then it goes through an upload URL and the job finishes", async () => {
    const app = await newApp();
    const { users } = sampleData(app.appId);
    const file = join(work, "large-users.json");
    // Whitespace makes the file larger than a form may carry without making the job slow.
    writeFileSync(
      file,
      `[${users.map((row) => JSON.stringify(row)).join(",\n")}${" ".repeat(4 * 1024 * 1024)}]`,
    );
    const result = await chatBackup(["import", "users", file], { app, cwd: work });
    expect(result.code, result.stderr).toBe(0);
    expect(lines(result.stderr)[0]).toMatch(/^upload users: 4\.0 MiB in [\d.]+ s$/);
    expect(result.stdout).toContain(`imported ${users.length} users from ${file}`);
    expect(await countRows(app.appId, "users")).toBe(users.length);
  });

  it("lists the jobs as a table", async () => {
    const result = await chatBackup(["jobs", "imports"], { app: source, cwd: work });
    expect(result.code).toBe(0);
    const [header, ...rows] = lines(result.stdout);
    expect(header).toMatch(/^CREATED\s+KIND\s+TYPE\s+STATUS\s+DONE\s+ROWS\s+SIZE\s+ID/);
    expect(rows).toHaveLength(3);
    expect(rows.map((row) => row.split(/\s+/)[2])).toEqual(["comments", "rooms", "users"]);
  });

  it("on a terminal, draws a bar that reaches 100 %", async () => {
    const file = join(work, "tty-users.json");
    const command = `${process.execPath} ${BIN} export users -o ${file}`;
    const result = await run("script", ["-qec", command, "/dev/null"], {
      env: { ...cliEnv(source, await apiUrl()), TERM: "xterm" },
      cwd: work,
    });
    await assertAnswersDocumented();
    expect(result.code, result.stdout).toBe(0);
    // the bar is redrawn in place: the last drawing of each bar is what the user sees
    expect(result.stdout).toMatch(/export users\s+\u2588{24} 100% \| finished\s+\| 5 rows/);
    expect(result.stdout).toMatch(/download users\s+\u2588{24} 100% \| .* of .* \| ETA 0s/);
    expect(result.stdout).toContain("exported 5 users");
  });
});

describe("chat-backup against a stand-in server", () => {
  let server: Server;
  let url: string;
  let throttled = 0;
  beforeAll(async () => {
    // A server without the upload route, that throttles the first list request and serves an
    // export whose file does not match its checksum.
    const exportJob = {
      created_at: "2026-01-01T00:00:00+00:00",
      error_message: "",
      original_filename: "export.json",
      percentage: 100,
      resource_name: "users",
      size: 3,
      status: "finished",
      total_rows: 0,
      unique_id: "6f1c0c1e-7d2a-4d7e-9a55-2d1f5e0b8a11",
      checksum_sha256: createHash("sha256").update("[]\n").digest("hex"),
    };
    server = createServer((request, response) => {
      request.resume();
      const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        response.writeHead(status, { "content-type": "application/json", ...headers });
        response.end(JSON.stringify(body));
      };
      const path = request.url ?? "";
      if (path === "/file") return response.end("[1]");
      if (path.startsWith("/api/v2.1/rest/exports") && request.method === "POST") {
        return send(200, { results: { ...exportJob, status: "started" }, status: 200 });
      }
      if (path === `/api/v2.1/rest/exports/${exportJob.unique_id}`) {
        const download_url = `${url}/file`;
        return send(200, { results: { backup_history: { ...exportJob, download_url } } });
      }
      if (path.startsWith("/api/v2.1/rest/exports") && throttled++ === 0) {
        return send(429, { message: "Too Many Requests" }, { "retry-after": "0" });
      }
      if (path.startsWith("/api/v2.1/rest/exports")) {
        return send(200, { results: { backup_histories: [] }, status: 200 });
      }
      send(404, { error: { message: "no such endpoint", detailed_messages: [] }, status: 404 });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("given a file above 4 MiB, then one clear line and exit code 2", async () => {
    const file = join(work, "large.json");
    writeFileSync(file, `[${" ".repeat(4 * 1024 * 1024)}]`);
    const result = await chatBackup(["import", "users", file], { app: source, cwd: work, url });
    expect(result.code).toBe(2);
    expect(lines(result.stderr)).toEqual([
      `chat-backup: ${file} is 4.0 MiB, above the 4 MiB of a form upload, and this server has no upload route for larger files (POST /api/v2.1/rest/imports/uploads answered 404)`,
    ]);
  });

  it("given a 429, then it waits and tries again", async () => {
    const result = await chatBackup(["jobs", "exports"], { app: source, cwd: work, url });
    expect(result.code, result.stderr).toBe(0);
    expect(lines(result.stderr)).toEqual(["HTTP 429: trying again in 0.0 s"]);
    expect(result.stdout).toBe("no exports jobs\n");
  });
  it("given a download that does not match its checksum, then no file, exit code 1", async () => {
    const file = join(work, "mismatch.json");
    const result = await chatBackup(["export", "users", "-o", file], {
      app: source,
      cwd: work,
      url,
    });
    expect(result.code).toBe(1);
    expect(lines(result.stderr).at(-1)).toMatch(
      /^chat-backup: the downloaded file does not match the export's checksum .*nothing was written$/,
    );
    expect(lines(result.stderr).filter((line) => line.endsWith("trying again"))).toHaveLength(2);
    expect(existsSync(file)).toBe(false);
    expect(existsSync(`${file}.part`)).toBe(false);
  });
});
