import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import type { LambdaRuntime } from "./lambda-runtime.ts";
import type { HttpApiThrottle } from "./serverless-definition.ts";

/** API Gateway's own limit on a request body. */
const MAX_BODY_BYTES = 10 * 1024 * 1024;

interface CompiledRoute {
  functionName: string;
  method: string;
  path: string;
  pattern: RegExp;
  params: string[];
}

function compile(functionName: string, method: string, path: string): CompiledRoute {
  const params: string[] = [];
  const source = path
    .split("/")
    .map((segment) => {
      const param = /^\{(\w+)\+?\}$/.exec(segment);
      if (param) {
        params.push(param[1] as string);
        return "([^/]+)";
      }
      return segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    })
    .join("/");
  return { functionName, method, path, pattern: new RegExp(`^${source}$`), params };
}

/** Chooses a route as API Gateway does: exact method before ANY, fewer parameters first, then `$default`. */
function match(routes: CompiledRoute[], method: string, path: string) {
  const candidates = routes
    .filter((route) => route.path !== "*" && (route.method === method || route.method === "ANY"))
    .map((route) => ({ route, found: route.pattern.exec(path) }))
    .filter((entry) => entry.found)
    .sort(
      (a, b) =>
        a.route.params.length - b.route.params.length ||
        Number(a.route.method === "ANY") - Number(b.route.method === "ANY"),
    );
  const best = candidates[0];
  if (best?.found) {
    const pathParameters = Object.fromEntries(
      best.route.params.map((name, i) => [name, decodeURIComponent(best.found?.[i + 1] ?? "")]),
    );
    return {
      route: best.route,
      pathParameters,
      routeKey: `${best.route.method} ${best.route.path}`,
    };
  }
  const fallback = routes.find((route) => route.path === "*");
  return fallback
    ? { route: fallback, pathParameters: undefined, routeKey: "$default" }
    : undefined;
}

function isTextual(contentType: string): boolean {
  return (
    /^(text\/|application\/(json|x-www-form-urlencoded|xml|javascript))/i.test(contentType) ||
    contentType === ""
  );
}

async function readBody(request: IncomingMessage): Promise<Buffer | "too-large"> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return "too-large";
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function toEvent(
  request: IncomingMessage,
  url: URL,
  body: Buffer,
  matched: NonNullable<ReturnType<typeof match>>,
): APIGatewayProxyEventV2 {
  const headers: Record<string, string> = {};
  for (let i = 0; i < request.rawHeaders.length; i += 2) {
    const name = (request.rawHeaders[i] as string).toLowerCase();
    const value = request.rawHeaders[i + 1] as string;
    headers[name] = headers[name] === undefined ? value : `${headers[name]},${value}`;
  }
  const query: Record<string, string> = {};
  for (const [name, value] of url.searchParams) {
    query[name] = query[name] === undefined ? value : `${query[name]},${value}`;
  }
  const contentType = headers["content-type"] ?? "";
  const base64 = body.length > 0 && !isTextual(contentType);
  const now = new Date();
  return {
    version: "2.0",
    routeKey: matched.routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    queryStringParameters: Object.keys(query).length ? query : undefined,
    pathParameters: matched.pathParameters,
    body: body.length ? body.toString(base64 ? "base64" : "utf8") : undefined,
    isBase64Encoded: base64,
    requestContext: {
      accountId: "000000000000",
      apiId: "local",
      domainName: headers.host ?? "127.0.0.1",
      domainPrefix: "local",
      http: {
        method: request.method ?? "GET",
        path: url.pathname,
        protocol: `HTTP/${request.httpVersion}`,
        sourceIp: request.socket.remoteAddress ?? "127.0.0.1",
        userAgent: headers["user-agent"] ?? "",
      },
      requestId: randomUUID(),
      routeKey: matched.routeKey,
      stage: "$default",
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
  } as APIGatewayProxyEventV2;
}

function send(response: ServerResponse, result: APIGatewayProxyStructuredResultV2) {
  const body = result.body
    ? Buffer.from(result.body, result.isBase64Encoded ? "base64" : "utf8")
    : Buffer.alloc(0);
  response.writeHead(result.statusCode ?? 200, {
    ...(result.headers as Record<string, string>),
    "content-length": String(body.length),
  });
  response.end(body);
}

function gatewayError(status: number, message: string): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode: status,
    headers: { "content-type": "application/json; charset=utf-8" },
    body: JSON.stringify({ error: { message, detailed_messages: [] }, status }),
  };
}

/** API Gateway's answer to a throttled request (its own body, not the service's envelope). */
const THROTTLED: APIGatewayProxyStructuredResultV2 = {
  statusCode: 429,
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ message: "Too Many Requests" }),
};

/** A token bucket as API Gateway applies it: `burstLimit` deep, refilled at `rateLimit` per second. */
function tokenBucket({ rateLimit, burstLimit }: HttpApiThrottle): () => boolean {
  let tokens = burstLimit;
  let refilledAt = performance.now();
  return () => {
    const now = performance.now();
    tokens = Math.min(burstLimit, tokens + ((now - refilledAt) / 1000) * rateLimit);
    refilledAt = now;
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
  };
}

/**
 * An HTTP server that turns requests into API Gateway HTTP API (payload 2.0) events for the
 * functions whose `httpApi` routes `serverless.yml` declares, throttled like the stage (429).
 */
export function startHttpGateway(
  runtime: LambdaRuntime,
  port: number,
  options: { host?: string; throttle?: HttpApiThrottle } = {},
): Promise<Server> {
  const routes = runtime.functions.flatMap((fn) =>
    fn.httpRoutes.map((route) => compile(fn.name, route.method, route.path)),
  );
  const admit = options.throttle ? tokenBucket(options.throttle) : () => true;
  const server = createServer(async (request, response) => {
    try {
      if (!admit()) {
        request.resume();
        return send(response, THROTTLED);
      }
      const url = new URL(request.url ?? "/", "http://localhost");
      const matched = match(routes, (request.method ?? "GET").toUpperCase(), url.pathname);
      if (!matched) return send(response, gatewayError(404, "not found"));
      const body = await readBody(request);
      if (body === "too-large")
        return send(response, gatewayError(413, "request body is larger than 10 MB"));
      const result = (await runtime.invoke(
        matched.route.functionName,
        toEvent(request, url, body, matched),
      )) as APIGatewayProxyStructuredResultV2;
      send(response, result);
    } catch (error) {
      if (request.readableAborted || (error as NodeJS.ErrnoException).code === "ECONNRESET") {
        return send(
          response,
          gatewayError(400, "the request body ended before its announced length"),
        );
      }
      console.error("local gateway: handler crashed", error);
      send(response, gatewayError(500, "internal error"));
    }
  });
  // A request Node cannot parse (a body shorter than its Content-Length, a broken chunk, bad
  // headers) gets the envelope, as API Gateway answers with its own 400, never a bare reply.
  server.on("clientError", (error: NodeJS.ErrnoException, socket) => {
    if (!socket.writable || (error.code === "ECONNRESET" && socket.destroyed)) {
      socket.destroy();
      return;
    }
    const answer = gatewayError(
      400,
      "the request could not be read: it ended early or is malformed",
    );
    const body = String(answer.body);
    socket.end(
      `HTTP/1.1 400 Bad Request\r\ncontent-type: application/json; charset=utf-8\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  });
  // A client that sends its whole request and then half-closes its side still gets the answer.
  (server as Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
  server.keepAliveTimeout = 5000;
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, options.host ?? "127.0.0.1", () => resolve(server));
  });
}
