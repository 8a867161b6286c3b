#!/usr/bin/env node
// In a clone of the repository chat-backup runs from its TypeScript sources through tsx, like the
// service's other tools. The installable package (packages/chat-backup) is plain JavaScript.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../lib/cli/entry.ts");
await main();
