import { S3Client } from "@aws-sdk/client-s3";
import { config } from "../config.ts";
import { recordCalls } from "./call-recorder.ts";

let client: S3Client | undefined;
let presigner: S3Client | undefined;

/** The S3 client, created once per container. */
export function s3(): S3Client {
  if (!client) {
    const { region, endpoints, s3ForcePathStyle } = config();
    client = recordCalls(
      new S3Client({ region, endpoint: endpoints.s3, forcePathStyle: s3ForcePathStyle }),
    );
  }
  return client;
}

/**
 * The client that signs upload URLs. It adds no checksum of its own: by default the SDK would
 * sign a CRC32 of an empty body into a presigned PUT, and S3 would then refuse the real file.
 */
export function uploadSigner(): S3Client {
  if (!presigner) {
    const { region, endpoints, s3ForcePathStyle } = config();
    presigner = recordCalls(
      new S3Client({
        region,
        endpoint: endpoints.s3,
        forcePathStyle: s3ForcePathStyle,
        requestChecksumCalculation: "WHEN_REQUIRED",
        responseChecksumValidation: "WHEN_REQUIRED",
      }),
    );
  }
  return presigner;
}
