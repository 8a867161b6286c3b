#!/usr/bin/env node
// chat-backup is written in TypeScript and runs through tsx, like the rest of the service's tools.
import { register } from "tsx/esm/api";

register();
const { run } = await import("../lib/cli/main.ts");
const code = await run(process.argv);
// Open keep-alive sockets must not hold the exit back once the work is done.
process.stdout.write("", () => process.exit(code));
