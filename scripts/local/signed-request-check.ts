import { createHash, timingSafeEqual } from "node:crypto";
import { Hash } from "@smithy/core/serde";
import { SignatureV4 } from "@smithy/signature-v4";

/** A request refused as an AWS JSON service refuses it: `__type` and message, HTTP 400. */
export class AwsJsonError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

/** What the check reads of a request as received. */
export interface ReceivedRequest {
  method: string;
  path: string;
  /** Header names in lower case. */
  headers: Record<string, string | string[] | undefined>;
  body: Uint8Array;
}

/** AWS refuses a signature made more than this far from its own clock. */
const MAX_SKEW_MS = 15 * 60 * 1000;

function header(request: ReceivedRequest, name: string): string {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(",") : (value ?? "");
}

function parseAmzDate(value: string): Date | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s] = match.map(Number) as number[];
  return new Date(Date.UTC(y as number, (mo as number) - 1, d, h, mi, s));
}

/**
 * Verifies a request signed with SigV4 in its `Authorization` header, as AWS's JSON services do:
 * the credential scope must name `service` and a known access key, the date must be near now,
 * a payload hash header must be the body's, and the signature must be the one the secret key
 * gives for this method, path, body and the headers named in `SignedHeaders`, recomputed by the
 * AWS SDK's own signer.
 * @throws AwsJsonError MissingAuthenticationTokenException, IncompleteSignatureException,
 *   UnrecognizedClientException or InvalidSignatureException
 */
export async function verifySignedRequest(
  request: ReceivedRequest,
  service: string,
  secretKeys: Record<string, string>,
  now = Date.now(),
): Promise<void> {
  const authorization = header(request, "authorization");
  if (!authorization) {
    throw new AwsJsonError("MissingAuthenticationTokenException", "Missing Authentication Token");
  }
  const match =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(
      authorization,
    );
  const signedAt = parseAmzDate(header(request, "x-amz-date"));
  if (!match || !signedAt) {
    throw new AwsJsonError(
      "IncompleteSignatureException",
      "Authorization header requires Credential, SignedHeaders and Signature, and X-Amz-Date.",
    );
  }
  const [, accessKeyId, , region, scopeService, signedList, provided] = match as string[];
  const secretAccessKey = secretKeys[accessKeyId as string];
  if (!secretAccessKey) {
    throw new AwsJsonError(
      "UnrecognizedClientException",
      "The security token included in the request is invalid.",
    );
  }
  if (scopeService !== service) {
    throw new AwsJsonError(
      "InvalidSignatureException",
      `Credential should be scoped to correct service: '${service}'.`,
    );
  }
  if (Math.abs(now - signedAt.getTime()) > MAX_SKEW_MS) {
    throw new AwsJsonError(
      "InvalidSignatureException",
      "Signature expired: the request's X-Amz-Date is more than 15 minutes from the server's time.",
    );
  }
  const signedHeaders = (signedList as string).split(";");
  const headers: Record<string, string> = {};
  for (const name of signedHeaders) headers[name] = header(request, name);
  // The signer trusts a payload hash header: it must be the hash of the body that arrived.
  const payloadHash = createHash("sha256").update(request.body).digest("hex");
  if (headers["x-amz-content-sha256"] !== undefined) {
    if (headers["x-amz-content-sha256"] !== payloadHash) {
      throw new AwsJsonError(
        "InvalidSignatureException",
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
      );
    }
  }
  const [hostname, port] = header(request, "host").split(":");
  const signer = new SignatureV4({
    credentials: { accessKeyId: accessKeyId as string, secretAccessKey },
    region: region as string,
    service,
    sha256: Hash.bind(null, "sha256"),
    // The payload's hash is a header only where the client signed one.
    applyChecksum: signedHeaders.includes("x-amz-content-sha256"),
  });
  const expected = await signer.sign(
    {
      method: request.method,
      protocol: "http:",
      hostname: hostname as string,
      port: port ? Number(port) : undefined,
      path: request.path,
      query: {},
      headers,
      body: request.body,
    },
    { signingDate: signedAt, signableHeaders: new Set(signedHeaders) },
  );
  const computed = /Signature=([0-9a-f]{64})$/.exec(String(expected.headers.authorization))?.[1];
  const a = Buffer.from(computed ?? "");
  const b = Buffer.from(provided as string);
  if (a.length !== b.length || !timingSafeEqual(a, b)) {
    throw new AwsJsonError(
      "InvalidSignatureException",
      "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.",
    );
  }
}
