import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT_DIR } from "../../scripts/local/stack.ts";
import type { Template } from "./iam-template.ts";
import { packageService } from "./package-service.ts";

/** What the template depends on (the code is only bundled into it). */
const TEMPLATE_SOURCES = [
  "serverless.yml",
  "package.json",
  "package-lock.json",
  "deploy/vpc.cjs",
  "deploy/connection-budget.cjs",
];

/**
 * The CloudFormation template `npm run package` makes for `stage` with `env` as the deploy-time
 * environment (`packageService`), cached under `.local/packaged/` by the hash of the files the
 * template depends on and of `env`, since a build takes half a minute.
 */
export async function packagedTemplate(
  env: Record<string, string> = {},
  stage = "dev",
): Promise<Template> {
  const hash = createHash("sha256").update(JSON.stringify({ env, stage }));
  for (const file of TEMPLATE_SOURCES) {
    if (existsSync(join(ROOT_DIR, file))) {
      hash.update(file).update(readFileSync(join(ROOT_DIR, file)));
    }
  }
  const cacheDir = join(ROOT_DIR, ".local", "packaged", hash.digest("hex").slice(0, 16));
  const cached = join(cacheDir, "cloudformation-template-update-stack.json");
  if (!existsSync(cached)) {
    const packaged = await packageService(stage, env);
    try {
      mkdirSync(cacheDir, { recursive: true });
      writeFileSync(cached, JSON.stringify(packaged.template));
    } finally {
      packaged.remove();
    }
  }
  return JSON.parse(readFileSync(cached, "utf8")) as Template;
}
