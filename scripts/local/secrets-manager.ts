import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { LocalSecretsManager } from "./secrets-store.ts";
import { AwsJsonError, verifySignedRequest } from "./signed-request-check.ts";

/**
 * A local AWS Secrets Manager for the local stack and the tests: the awsJson1.1 protocol
 * (`POST /`, `X-Amz-Target: secretsmanager.<Operation>`, JSON bodies, `__type` errors) for
 * CreateSecret, GetSecretValue, PutSecretValue and DescribeSecret, every request's SigV4 signature
 * verified. No npm package serves Secrets Manager; the real SDK client talks to this one through
 * AWS_ENDPOINT_URL_SECRETS_MANAGER, as the functions talk to Secrets Manager on AWS.
 */

type Input = Record<string, unknown>;

const TARGET_PREFIX = "secretsmanager.";
const MAX_REQUEST_BYTES = 1024 * 1024;

function send(response: ServerResponse, status: number, body: Input, type?: string): void {
  response.writeHead(status, {
    "content-type": "application/x-amz-json-1.1",
    "x-amzn-requestid": randomUUID(),
    ...(type ? { "x-amzn-errortype": type } : {}),
  });
  response.end(JSON.stringify(body));
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_REQUEST_BYTES)
      throw new AwsJsonError("ValidationException", "The request is too large.", 413);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * Serves a {@link LocalSecretsManager} on `port` (0: a free one) of 127.0.0.1, accepting requests
 * signed with one of `secretKeys` (access key id -> secret access key).
 */
export async function startSecretsManager(
  port: number,
  options: { region: string; secretKeys: Record<string, string> },
): Promise<{ server: Server; port: number; secrets: LocalSecretsManager }> {
  const secrets = new LocalSecretsManager(options.region);
  const server = createServer(async (request, response) => {
    try {
      const body = await readBody(request);
      if (request.method !== "POST" || (request.url ?? "/").split("?")[0] !== "/") {
        throw new AwsJsonError("UnknownOperationException", "Only POST / is served.", 404);
      }
      await verifySignedRequest(
        { method: "POST", path: "/", headers: request.headers, body },
        "secretsmanager",
        options.secretKeys,
      );
      const target = String(request.headers["x-amz-target"] ?? "");
      if (!target.startsWith(TARGET_PREFIX)) {
        throw new AwsJsonError("UnknownOperationException", `Unknown X-Amz-Target "${target}".`);
      }
      let input: unknown;
      try {
        input = body.length === 0 ? {} : JSON.parse(body.toString("utf8"));
      } catch {
        throw new AwsJsonError("SerializationException", "The request body is not JSON.");
      }
      if (typeof input !== "object" || input === null || Array.isArray(input)) {
        throw new AwsJsonError("SerializationException", "The request body is not a JSON object.");
      }
      send(response, 200, secrets.handle(target.slice(TARGET_PREFIX.length), input as Input));
    } catch (error) {
      if (error instanceof AwsJsonError) {
        send(response, error.status, { __type: error.type, message: error.message }, error.type);
      } else {
        send(
          response,
          500,
          { __type: "InternalServiceError", message: "internal error" },
          "InternalServiceError",
        );
      }
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  return { server, port: (server.address() as { port: number }).port, secrets };
}
