// Bundles the command line (lib/cli and the schemas it uses, with commander, cli-progress and
// ajv) into one plain JavaScript file for Node 20: the package installs with no dependency.
// Run by `npm pack` (prepack); esbuild comes from the repository's dev dependencies.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const { version } = JSON.parse(readFileSync(here("package.json"), "utf8"));

await build({
  entryPoints: [here("entry.ts")],
  outfile: here("dist/chat-backup.js"),
  bundle: true,
  platform: "node",
  target: "node20",
  format: "esm",
  minify: false,
  legalComments: "none",
  define: { CHAT_BACKUP_VERSION: JSON.stringify(version) },
  // The bundled CommonJS packages require Node's modules; ESM has no `require` of its own.
  banner: {
    js: [
      "#!/usr/bin/env node",
      'import { createRequire as chatBackupRequire } from "node:module";',
      "const require = chatBackupRequire(import.meta.url);",
    ].join("\n"),
  },
  logLevel: "warning",
});
