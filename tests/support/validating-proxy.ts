import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { documentedProblem } from "./api-fetch.ts";

/** Headers that belong to one connection, not to the message, and are not forwarded. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "transfer-encoding",
  "upgrade",
  "host",
  "content-length",
  "content-encoding",
]);

export interface ValidatingProxy {
  /** The address to give a client instead of the API's. */
  url: string;
  /** The problems found since the last call (an answer the OpenAPI document does not allow). */
  takeProblems(): string[];
  close(): Promise<void>;
}

async function readAll(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * An HTTP proxy in front of the API for a client running in another process (the `chat-backup`
 * command under test): every request is passed on and every answer the
 * client receives is checked against the OpenAPI document, and a problem is kept for the test to
 * fail on. The answer itself reaches the client unchanged.
 */
export async function startValidatingProxy(target: string): Promise<ValidatingProxy> {
  let problems: string[] = [];
  const server = createServer(async (request, response) => {
    try {
      const body = await readAll(request);
      const headers = new Headers();
      for (const [name, value] of Object.entries(request.headers)) {
        if (value === undefined || HOP_BY_HOP.has(name)) continue;
        headers.set(name, Array.isArray(value) ? value.join(", ") : value);
      }
      const method = request.method ?? "GET";
      const url = new URL(request.url ?? "/", target);
      // biome-ignore lint/style/noRestrictedGlobals: the answer is checked just below, once
      const answer = await fetch(url, {
        method,
        headers,
        body: method === "GET" || method === "HEAD" ? undefined : body,
      });
      const bytes = Buffer.from(await answer.arrayBuffer());
      const problem = documentedProblem(method, url, {
        status: answer.status,
        headers: answer.headers,
        text: bytes.toString("utf8"),
      });
      if (problem) problems.push(problem);
      const out: Record<string, string> = {};
      answer.headers.forEach((value, name) => {
        if (!HOP_BY_HOP.has(name)) out[name] = value;
      });
      out["content-length"] = String(bytes.length);
      response.writeHead(answer.status, out);
      response.end(bytes);
    } catch (error) {
      problems.push(`the proxy could not pass ${request.method} ${request.url} on: ${error}`);
      response.writeHead(502).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    takeProblems() {
      const taken = problems;
      problems = [];
      return taken;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
