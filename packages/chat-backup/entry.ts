import { main } from "../../lib/cli/entry.ts";

await main();
