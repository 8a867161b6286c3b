import { execFile } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT_DIR } from "../../scripts/local/stack.ts";
import { newApp, type TestApp } from "../support/harness.ts";
import {
  apiUrl,
  assertAnswersDocumented,
  cliEnv,
  deliverJobMessages,
  run,
  sampleData,
} from "./support.ts";

const exec = promisify(execFile);
const PACKAGE_DIR = join(ROOT_DIR, "packages", "chat-backup");
const { version } = JSON.parse(readFileSync(join(PACKAGE_DIR, "package.json"), "utf8")) as {
  version: string;
};

let work: string;
let prefix: string;
let installedBin: string;
let stopDelivery: () => Promise<void>;
let app: TestApp;

/** Every file under `dir`, relative to it. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .sort();
}

// Packs the package as `npm pack` does for a release (its prepack bundles the command line),
// then installs the tarball into an empty prefix the way an operator would, dev dependencies
// left out; nothing of the repository is on that command's way.
beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "chat-backup-pack-"));
  prefix = join(work, "prefix");
  mkdirSync(prefix);
  const npmEnv = { ...process.env, npm_config_update_notifier: "false" };
  const packed = await exec("npm", ["pack", PACKAGE_DIR, "--pack-destination", work, "--json"], {
    cwd: work,
    env: npmEnv,
  });
  const [tarball] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
  expect(tarball?.files.map((file) => file.path).sort()).toEqual([
    "README.md",
    "dist/chat-backup.js",
    "package.json",
  ]);
  await exec(
    "npm",
    [
      "install",
      "--global",
      "--prefix",
      prefix,
      "--omit=dev",
      "--no-audit",
      "--no-fund",
      join(work, tarball?.filename as string),
    ],
    { cwd: work, env: npmEnv },
  );
  installedBin = join(prefix, "bin", "chat-backup");
  stopDelivery = deliverJobMessages();
  app = await newApp();
}, 180_000);

afterAll(async () => {
  await stopDelivery?.();
  if (work) rmSync(work, { recursive: true, force: true });
});

/**
 * The installed command, run from the temporary directory with only PATH and HOME of ours,
 * against the test stack through the proxy that checks every answer against the OpenAPI document.
 */
async function installed(args: string[], withApp?: TestApp) {
  const result = await run(installedBin, args, { env: cliEnv(withApp, await apiUrl()), cwd: work });
  await assertAnswersDocumented();
  return result;
}

describe("the chat-backup package", () => {
  it("installs as one bundled file and its manifest, with no dependency and no server code", () => {
    const installedDir = join(prefix, "lib", "node_modules", "chat-backup");
    expect(filesUnder(installedDir)).toEqual(["README.md", "dist/chat-backup.js", "package.json"]);
    const manifest = JSON.parse(readFileSync(join(installedDir, "package.json"), "utf8"));
    expect(manifest.dependencies ?? {}).toEqual({});
    // Nothing else came along: no tsx, no node_modules of its own, no TypeScript sources.
    expect(existsSync(join(installedDir, "node_modules"))).toBe(false);
    expect(readdirSync(join(prefix, "lib", "node_modules"))).toEqual(["chat-backup"]);
    const bundle = readFileSync(join(installedDir, "dist", "chat-backup.js"), "utf8");
    expect(bundle.startsWith("#!/usr/bin/env node\n")).toBe(true);
    expect(bundle).not.toMatch(/from "tsx|require\("tsx|\.ts"\)/);
    expect(bundle).not.toContain("@aws-sdk");
  });

  it("answers --version with the package's version and --help with its commands", async () => {
    const shown = await installed(["--version"]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout.trim()).toBe(version);
    const help = await installed(["--help"]);
    expect(help.code, help.stderr).toBe(0);
    for (const command of ["export", "import", "backup", "restore", "jobs"]) {
      expect(help.stdout).toContain(command);
    }
  });

  it("imports a file into an application and backs the application up against the service", async () => {
    const { users } = sampleData(app.appId);
    const file = join(work, "users.json");
    writeFileSync(file, JSON.stringify(users));
    const imported = await installed(["import", "users", file], app);
    expect(imported.code, imported.stderr).toBe(0);

    const dir = join(work, "backup");
    const made = await installed(["backup", dir], app);
    expect(made.code, made.stderr).toBe(0);
    const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
    expect(manifest).toMatchObject({ format: "chat-backup/1", app_id: app.appId });
    expect(manifest.files.users).toMatchObject({ file: "users.json", rows: users.length });
    const backedUp = JSON.parse(readFileSync(join(dir, "users.json"), "utf8"));
    expect(backedUp.map((user: { Email: string }) => user.Email)).toEqual(
      users.map((user) => user.Email),
    );
    for (const type of ["rooms", "comments"]) {
      expect(manifest.files[type]).toMatchObject({ file: `${type}.json`, rows: 0 });
    }
  });
});
