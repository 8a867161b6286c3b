import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { ROOT_DIR } from "../../scripts/local/stack.ts";
import type { Template } from "./iam-template.ts";

/** What `osls package` reads; the template depends on nothing else (the code is only bundled). */
const SERVICE_FILES = [
  "serverless.yml",
  "package.json",
  "package-lock.json",
  "tsconfig.json",
  "deploy/vpc.cjs",
];
const COPIED = [...SERVICE_FILES, "functions", "lib", "schemas", "migrations"];

/**
 * The CloudFormation template `npm run package` makes (`osls package`, stage `dev` unless
 * given), built in a copy of the service so that concurrent builds never share the bundler's
 * files. Cached under `.local/packaged/` by the hash of the files the template depends on and
 * of `env`, since a build takes half a minute.
 */
export async function packagedTemplate(
  env: Record<string, string> = {},
  stage = "dev",
): Promise<Template> {
  const hash = createHash("sha256").update(JSON.stringify({ env, stage }));
  for (const file of SERVICE_FILES) {
    if (existsSync(join(ROOT_DIR, file)))
      hash.update(file).update(readFileSync(join(ROOT_DIR, file)));
  }
  const cacheDir = join(ROOT_DIR, ".local", "packaged", hash.digest("hex").slice(0, 16));
  const cached = join(cacheDir, "cloudformation-template-update-stack.json");
  if (!existsSync(cached)) {
    const workDir = mkdtempSync(join(tmpdir(), "chat-backup-package-"));
    try {
      for (const entry of COPIED) {
        if (!existsSync(join(ROOT_DIR, entry))) continue;
        cpSync(join(ROOT_DIR, entry), join(workDir, entry), { recursive: true });
      }
      symlinkSync(join(ROOT_DIR, "node_modules"), join(workDir, "node_modules"), "dir");
      mkdirSync(cacheDir, { recursive: true });
      await promisify(execFile)(
        process.execPath,
        [
          join(ROOT_DIR, "node_modules", "osls", "bin", "serverless.js"),
          "package",
          "--stage",
          stage,
          "--package",
          join(workDir, "package-out"),
        ],
        {
          cwd: workDir,
          timeout: 150_000,
          env: {
            PATH: process.env.PATH,
            HOME: process.env.HOME,
            NODE_NO_WARNINGS: "1",
            SLS_TELEMETRY_DISABLED: "1",
            ...env,
          },
        },
      );
      cpSync(join(workDir, "package-out", "cloudformation-template-update-stack.json"), cached);
    } finally {
      rmSync(workDir, { recursive: true, force: true });
    }
  }
  return JSON.parse(readFileSync(cached, "utf8")) as Template;
}
