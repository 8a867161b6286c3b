import { S3Client } from "@aws-sdk/client-s3";
import { config } from "../config.ts";

let client: S3Client | undefined;

/** The S3 client, created once per container. */
export function s3(): S3Client {
  if (!client) {
    const { region, endpoints, s3ForcePathStyle } = config();
    client = new S3Client({ region, endpoint: endpoints.s3, forcePathStyle: s3ForcePathStyle });
  }
  return client;
}
