import { S3ServiceException } from "@aws-sdk/client-s3";
import pg from "pg";
import { UnexportableRowError } from "../chat-db/export-row-writer.ts";

/** Errors of S3 that no retry of the same upload can cure. */
const S3_PERMANENT = new Set(["NoSuchUpload", "InvalidPart", "InvalidPartOrder", "EntityTooSmall"]);

/** True for an error no retry can help (bad data, a broken upload). */
export function isPermanent(error: unknown): boolean {
  // SQLSTATE class 22: data exceptions (unknown time zone, impossible date, ...).
  if (error instanceof pg.DatabaseError) return error.code?.startsWith("22") ?? false;
  if (error instanceof UnexportableRowError) return true;
  return error instanceof S3ServiceException && S3_PERMANENT.has(error.name);
}

/** What a user reads about a permanent error. */
export function reasonOf(error: unknown): string {
  if (error instanceof pg.DatabaseError) return `the chat data could not be read: ${error.message}`;
  if (error instanceof S3ServiceException) {
    return `the file could not be stored (${error.name}); please request a new export`;
  }
  return (error as Error).message;
}
