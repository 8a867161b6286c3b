import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fileInside } from "../../lib/cli/safe-path.ts";
import { chatBackup } from "./support.ts";

const CONTENT = '[{"Email":"a@example.com"}]\n';

/** A server that answers an export like the service would, but names its file `filename`. */
function hostileServer(filename: () => string): Server {
  return createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://x");
    if (url.pathname === "/file") {
      response.end(CONTENT);
      return;
    }
    const job = {
      unique_id: "5f0c1a34-1c1e-4b8e-9a57-2a7e0a4d6c11",
      created_at: "2026-12-04T00:00:00+00:00",
      status: "finished",
      percentage: 100,
      resource_name: "users",
      total_rows: 1,
      size: Buffer.byteLength(CONTENT),
      error_message: "",
      original_filename: filename(),
      download_url: `http://${request.headers.host}/file`,
      checksum_sha256: createHash("sha256").update(CONTENT).digest("hex"),
    };
    const results = request.method === "POST" ? job : { backup_history: job };
    response.setHeader("content-type", "application/json");
    response.end(JSON.stringify({ results, status: 200 }));
  });
}

describe("chat-backup never writes outside its directory", () => {
  let server: Server;
  let url: string;
  let name = "";
  beforeAll(async () => {
    server = hostileServer(() => name);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  for (const hostile of ["../../escaped.json", "/tmp/../escaped.json", "..\\..\\escaped.json"]) {
    it(`given a server naming the export ${hostile}, when exported, then the file lands in the working directory`, async () => {
      name = hostile;
      const root = mkdtempSync(join(tmpdir(), "chat-backup-hostile-"));
      const work = join(root, "a", "b");
      mkdirSync(work, { recursive: true });
      const result = await chatBackup(["export", "users"], {
        app: { appId: "x", secret: "y" },
        cwd: work,
        url,
      });
      expect(result.code, result.stderr).toBe(0);
      expect(readdirSync(work)).toEqual(["escaped.json"]);
      expect(readFileSync(join(work, "escaped.json"), "utf8")).toBe(CONTENT);
      expect(existsSync(join(root, "escaped.json"))).toBe(false);
      expect(readdirSync(join(root, "a"))).toEqual(["b"]);
    });
  }

  it("given names that are nothing but dots, slashes or control characters, then the fallback name", () => {
    for (const hostile of ["..", "/", "", "\u0000\n", "C:"]) {
      expect(fileInside("/out", hostile, "users.json")).toBe("/out/users.json");
    }
    expect(fileInside("/out", ".bashrc", "users.json")).toBe("/out/bashrc");
  });
});
