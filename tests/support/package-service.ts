import { execFile } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { ROOT_DIR } from "../../scripts/local/stack.ts";

/** What the service's packaging reads: the template's sources and the code it bundles. */
const SOURCES = [
  "serverless.yml",
  "package.json",
  "tsconfig.json",
  "deploy",
  "functions",
  "lib",
  "schemas",
  "migrations",
];

export interface PackagedService {
  /** `cloudformation-template-update-stack.json`, parsed. */
  template: Record<string, any>;
  /** Every file of the package output as text; the zip's entries as they are inside it. */
  files: { name: string; text: string }[];
  remove(): void;
}

/**
 * `npm run package` offline, in a copy of the service (concurrent builds never share the bundler's
 * working files), with exactly `env` as the deploy-time environment.
 */
export async function packageService(
  stage: string,
  env: Record<string, string>,
): Promise<PackagedService> {
  const workDir = mkdtempSync(join(tmpdir(), "chat-backup-package-"));
  const remove = () => rmSync(workDir, { recursive: true, force: true });
  try {
    for (const entry of SOURCES) {
      cpSync(join(ROOT_DIR, entry), join(workDir, entry), { recursive: true });
    }
    symlinkSync(join(ROOT_DIR, "node_modules"), join(workDir, "node_modules"), "dir");
    const out = join(workDir, "package-out");
    const serverless = join(ROOT_DIR, "node_modules", "osls", "bin", "serverless.js");
    await promisify(execFile)(
      process.execPath,
      [serverless, "package", "--stage", stage, "--package", out],
      {
        cwd: workDir,
        timeout: 120_000,
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          NODE_NO_WARNINGS: "1",
          SLS_TELEMETRY_DISABLED: "1",
          ...env,
        },
      },
    );
    const files: PackagedService["files"] = [];
    for (const name of readdirSync(out)) {
      const path = join(out, name);
      if (!name.endsWith(".zip")) {
        files.push({ name, text: readFileSync(path, "utf8") });
        continue;
      }
      // The bundled code, unpacked: a zip's deflated bytes would hide any text.
      const { stdout } = await promisify(execFile)("unzip", ["-p", path], {
        maxBuffer: 1024 ** 3,
      });
      files.push({ name, text: stdout });
    }
    const template = JSON.parse(
      readFileSync(join(out, "cloudformation-template-update-stack.json"), "utf8"),
    );
    return { template, files, remove };
  } catch (error) {
    remove();
    throw error;
  }
}
