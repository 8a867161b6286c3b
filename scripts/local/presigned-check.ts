import { timingSafeEqual } from "node:crypto";
import { Hash } from "@smithy/core/serde";
import { SignatureV4 } from "@smithy/signature-v4";
// @ts-expect-error s3rver ships no type declarations
import S3Error from "s3rver/lib/models/error.js";

/** What the check reads of a Koa context (s3rver is a Koa application). */
interface RequestContext {
  method: string;
  host: string;
  /** The path as sent (still percent-encoded): S3 signs it as it is. */
  path: string;
  querystring: string;
  get(header: string): string;
}

/** The longest a SigV4 presigned URL may live (S3's own limit, one week). */
const MAX_EXPIRES_SECONDS = 604800;

function authorizationError(message: string): Error {
  return new S3Error("AuthorizationQueryParametersError", message);
}

function parseAmzDate(value: string): Date | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s] = match.map(Number) as number[];
  return new Date(Date.UTC(y as number, (mo as number) - 1, d, h, mi, s));
}

/**
 * Verifies a SigV4 presigned request the way S3 does, for the local S3 (s3rver checks only that
 * the access key exists): the URL must not have expired (`X-Amz-Date` + `X-Amz-Expires`), and the
 * signature must be the one the secret key gives for this method, host, path, query and the
 * headers named in `X-Amz-SignedHeaders` with the values this request carries. The signature is
 * recomputed by the AWS SDK's own signer (`@smithy/signature-v4`), from the request as received.
 * Requests without `X-Amz-Signature` in the query are left to s3rver.
 * @throws s3rver's S3Error (rendered as S3's XML error): AccessDenied "Request has expired",
 *   SignatureDoesNotMatch, InvalidAccessKeyId, AuthorizationQueryParametersError
 */
export async function verifyPresigned(
  ctx: RequestContext,
  secretKeys: Record<string, string>,
  now = Date.now(),
): Promise<void> {
  const query = new URLSearchParams(ctx.querystring);
  const provided = query.get("X-Amz-Signature");
  if (provided === null) return;
  if (query.get("X-Amz-Algorithm") !== "AWS4-HMAC-SHA256") {
    throw authorizationError('X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"');
  }
  const [accessKeyId, day, region, service, terminator] = (
    query.get("X-Amz-Credential") ?? ""
  ).split("/");
  if (!accessKeyId || !day || !region || service !== "s3" || terminator !== "aws4_request") {
    throw authorizationError("Error parsing the X-Amz-Credential parameter");
  }
  const signedAt = parseAmzDate(query.get("X-Amz-Date") ?? "");
  const expires = Number(query.get("X-Amz-Expires"));
  if (!signedAt) throw authorizationError("X-Amz-Date must be in the ISO8601 Long Format");
  if (!Number.isInteger(expires) || expires < 0 || expires > MAX_EXPIRES_SECONDS) {
    throw authorizationError(
      "X-Amz-Expires must be non-negative and less than a week (in seconds)",
    );
  }
  const secretAccessKey = secretKeys[accessKeyId];
  if (!secretAccessKey) {
    throw new S3Error(
      "InvalidAccessKeyId",
      "The AWS Access Key Id you provided does not exist in our records.",
      { AWSAccessKeyId: accessKeyId },
    );
  }
  if (now > signedAt.getTime() + expires * 1000) {
    throw new S3Error("AccessDenied", "Request has expired", {
      "X-Amz-Expires": String(expires),
      Expires: new Date(signedAt.getTime() + expires * 1000).toISOString().replace(/\.\d+/, ""),
      ServerTime: new Date(now).toISOString().replace(/\.\d+/, ""),
    });
  }

  const signedHeaders = (query.get("X-Amz-SignedHeaders") ?? "").split(";").filter(Boolean);
  const headers: Record<string, string> = {};
  for (const name of signedHeaders) headers[name] = ctx.get(name);
  // S3 signs presigned requests with an unsigned payload; the signer hoists the header back into
  // the query under the name it is given, so it keeps the query's spelling.
  const payloadParam =
    [...query.keys()].find((name) => name.toLowerCase() === "x-amz-content-sha256") ??
    "X-Amz-Content-Sha256";
  headers[payloadParam] = query.get(payloadParam) ?? "UNSIGNED-PAYLOAD";
  const rest: Record<string, string | string[]> = {};
  for (const name of new Set(query.keys())) {
    if (name === "X-Amz-Signature" || name === payloadParam) continue;
    const values = query.getAll(name);
    rest[name] = values.length === 1 ? (values[0] as string) : values;
  }
  const [hostname, port] = ctx.host.split(":");
  const signer = new SignatureV4({
    credentials: { accessKeyId, secretAccessKey },
    region,
    service: "s3",
    sha256: Hash.bind(null, "sha256"),
    uriEscapePath: false,
    applyChecksum: false,
  });
  const expected = await signer.presign(
    {
      method: ctx.method,
      protocol: "http:",
      hostname: hostname as string,
      port: port ? Number(port) : undefined,
      path: ctx.path,
      query: rest,
      headers,
    },
    {
      signingDate: signedAt,
      expiresIn: expires,
      signingRegion: region,
      signingService: "s3",
      // Exactly the headers the URL names are signed, as S3 reads them from X-Amz-SignedHeaders.
      signableHeaders: new Set(signedHeaders),
    },
  );
  const computed = String(expected.query?.["X-Amz-Signature"]);
  const sameHeaders = expected.query?.["X-Amz-SignedHeaders"] === signedHeaders.join(";");
  const a = Buffer.from(computed);
  const b = Buffer.from(provided);
  if (!sameHeaders || a.length !== b.length || !timingSafeEqual(a, b)) {
    throw new S3Error(
      "SignatureDoesNotMatch",
      "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
      { AWSAccessKeyId: accessKeyId, SignatureProvided: provided },
    );
  }
}
