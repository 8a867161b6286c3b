import { config } from "../config.ts";

export const RESOURCES = ["users", "rooms", "comments"] as const;
export type Resource = (typeof RESOURCES)[number];
export type JobKind = "export" | "import" | "backup" | "restore";
export type JobStatus = "started" | "processing" | "finished" | "failed";
export type JobTrigger = "api" | "schedule";

/** Where an export stands between two invocations; enough to continue the very same file. */
export interface ExportCheckpoint {
  /** Keyset position: creation time (PostgreSQL text) and id of the last row in uploaded parts. */
  cursor?: { createdAt: string; id: number };
  /** Rows with a larger id than this did not exist when the export began. */
  cutId: number;
  expectedRows: number;
  uploadId: string;
  /** The object the upload writes, when it is not the job's `objectKey` (a backup's files). */
  uploadKey?: string;
  parts: { PartNumber: number; ETag: string }[];
  rows: number;
  bytes: number;
  /** Serialised SHA-256 state of the bytes in `parts` (base64). */
  hashState: string;
  /**
   * A parallel export's key ranges: the inclusive upper bound of every range but the last
   * (range k holds the rows after bound k-1 up to bound k). Absent for a serial export.
   */
  ranges?: { createdAt: string; id: number }[];
  /** The ranges were stored and their messages queued. */
  rangesQueued?: boolean;
  /** The finisher's position when joining the range files: range and byte offset in it. */
  joined?: { range: number; offset: number };
  /** When the first invocation began writing the file (ISO 8601); duration metrics count from here. */
  startedAt?: string;
  /**
   * Every part is stored (`parts`, `bytes`) and the upload is being completed: a retry completes
   * or finds the file rather than writing it again.
   */
  completing?: { checksum: string; rows: number };
}

/**
 * One key range of a parallel export, kept in an item of its own (the job record is limited in
 * size). It has its own lease and message sequence, under the same rules as a job's.
 */
export interface ExportRange {
  appId: string;
  jobId: string;
  range: number;
  /** processing while rows are written, finished when its file is complete. */
  status: JobStatus;
  seq: number;
  leaseOwner?: string;
  leaseUntil?: number;
  /** The range file's multipart upload and position (rows and bytes of this range only). */
  uploadId: string;
  cursor?: { createdAt: string; id: number };
  parts: { PartNumber: number; ETag: string }[];
  rows: number;
  bytes: number;
  /** Every part of the range file is stored (the last one too): only completion is left. */
  ended?: boolean;
  expiresAt: number;
  updatedAt?: string;
}

/** An import's rows already in the application: a row error ("fail") or, with the same content, skipped. */
export type OnExisting = "fail" | "skip";

export interface ImportErrors {
  Message: string;
  Data: ImportRowError[] | null;
}

export interface ImportRowError {
  row: number;
  field: string;
  message: string;
}

/** The instant a backup holds: taken once, by the invocation that starts the backup. */
export interface BackupCut {
  /** The cut's instant (the snapshot's transaction time, ISO 8601 UTC). */
  at: string;
  /** Per table, the largest id visible at the cut: rows with larger ids are never in the set. */
  maxIds: Record<Resource, number>;
  /** The cut's snapshot (`pg_current_snapshot()` text): rows changed after it are detectable. */
  snapshot: string;
}

/** One finished file of a backup set. */
export interface BackupFile {
  key: string;
  rows: number;
  bytes: number;
  sha256: string;
}

/** What a backup job keeps beside the job fields. */
export interface BackupState {
  compression: "gzip" | "none";
  /** A nightly backup's night: the application's calendar day it was made for. */
  night?: string;
  cut?: BackupCut;
  /** Set when some of the set was read after the invocation that took the cut had ended. */
  resumed?: boolean;
  /** The finished files; the one being written is `JobRecord.resource` with `checkpoint`. */
  files: Partial<Record<Resource, BackupFile>>;
  manifestSha256?: string;
  /** Rows of the three types within the cut (the denominator of `percentage`). */
  expectedRows?: Record<Resource, number>;
}

/** One file of the backup a restore reads (captured when the restore starts). */
export type RestoreFile = BackupFile;

/** Where one type of a restore stands. */
export interface RestoreTypeState {
  /** `started` until its step begins (and for good, when an earlier type failed). */
  status: JobStatus;
  percentage: number;
  /** Rows written (or, on a dry run, that would be). */
  totalRows: number;
  skippedRows: number;
  errors: ImportErrors;
}

/** What a restore job keeps beside the job fields: its backup and its three steps. */
export interface RestoreState {
  backupId: string;
  files: Record<Resource, RestoreFile>;
  /** The step being worked on: an index into RESOURCES (users, rooms, comments); 3 when done. */
  step: number;
  types: Record<Resource, RestoreTypeState>;
}

/** One export, import, backup or restore job, as kept in the jobs table. */
export interface JobRecord {
  appId: string;
  jobId: string;
  kind: JobKind;
  resource: Resource;
  status: JobStatus;
  trigger: JobTrigger;
  /** UTC instant, ISO 8601 with milliseconds. */
  createdAt: string;
  updatedAt: string;
  originalFilename: string;
  objectKey: string;
  percentage: number;
  totalRows: number;
  size: number;
  errorMessage: string;
  /** Export filters. */
  startDate?: string;
  endDate?: string;
  timezone?: string;
  checksumSha256?: string;
  /** Import outcome. */
  errors?: ImportErrors;
  dryRun?: boolean;
  /** What an import does with a row the application already holds (absent: "fail"). */
  onExisting?: OnExisting;
  /** Rows an import skipped because the application held them with the same content. */
  skippedRows?: number;
  /** Message sequence: a queue message older than this is stale. */
  seq: number;
  leaseOwner?: string;
  leaseUntil?: number;
  checkpoint?: ExportCheckpoint;
  /** A backup's cut, files and compression (kind `backup` only). */
  backup?: BackupState;
  /** A restore's backup and steps (kind `restore` only). */
  restore?: RestoreState;
  /** Epoch seconds after which the record expires (DynamoDB TTL). */
  expiresAt: number;
  idempotencyKey?: string;
}

/** Formats a UTC instant as RFC 3339 in the configured display offset, e.g. `2017-07-17T10:19:44+07:00`. */
export function displayTime(isoUtc: string, utcOffset = config().displayUtcOffset): string {
  const sign = utcOffset.startsWith("-") ? -1 : 1;
  const [hours, minutes] = utcOffset.slice(1).split(":").map(Number);
  const shiftMs = sign * ((hours ?? 0) * 60 + (minutes ?? 0)) * 60000;
  const shifted = new Date(Date.parse(isoUtc) + shiftMs).toISOString();
  return `${shifted.slice(0, 19)}${utcOffset}`;
}
