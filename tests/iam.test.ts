import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { loadServiceDefinition } from "../scripts/local/serverless-definition.ts";
import { ROOT_DIR } from "../scripts/local/stack.ts";
import { readCallRecords } from "./support/aws-calls.ts";
import { checkRoles, needsTable } from "./support/iam-check.ts";
import { EvidenceMapper, localNames, type Need } from "./support/iam-evidence.ts";
import {
  backupFlows,
  deadLetterFlows,
  exportFlows,
  importFlows,
  nightlyFlows,
  publicFlows,
} from "./support/iam-flows.ts";
import { TemplateReader } from "./support/iam-template.ts";
import { packagedTemplate } from "./support/packaged-template.ts";

// The consumers run in this file's process: exports of more than 1,000 rows split into key
// ranges, files are cut into parts of S3's smallest size and rows read 100 at a time (time is
// looked at between reads), so that small data takes every path.
vi.hoisted(() => {
  process.env.EXPORT_PARALLEL_ROWS = "1000";
  process.env.EXPORT_PAGE_ROWS = "100";
  process.env.EXPORT_PART_BYTES = String(5 * 1024 * 1024);
});

let template: Promise<TemplateReader>;
/** The database's secret as a deployment names it (the local stack's has another ARN). */
const PACKAGED_SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:chat-db-AbCdEf";

beforeAll(() => {
  template = packagedTemplate({ DATABASE_SECRET_ARN: PACKAGED_SECRET_ARN }).then(
    (t) => new TemplateReader(t),
  );
  template.catch(() => {});
});

/**
 * Least privilege from evidence (SPEC 12): the flows below drive every function through the
 * local stack while the recorder (`lib/aws/call-recorder.ts`) writes down each AWS SDK command
 * as its function's; then every recorded command, mapped to the IAM action and resource it needs,
 * must be allowed by that function's own role in the template `npm run package` makes, and every
 * statement of a role must be needed by some recorded call. Records of the other test files of
 * the run count too (they can only add calls).
 */
describe("IAM from evidence", () => {
  it(
    "drives exports: split into ranges and joined, deleted, cancelled, handed over, failed",
    exportFlows,
    120_000,
  );
  it(
    "drives imports: form files, password fan-out, uploads, a missing upload",
    importFlows,
    120_000,
  );
  it("drives backups and restores, deletes and limits", backupFlows, 120_000);
  it("drives the nightly schedule with retention", nightlyFlows, 120_000);
  it("drives dead letters", deadLetterFlows, 60_000);
  it("drives the routes without AWS calls", publicFlows);

  it("every recorded call is allowed by its function's own role, and every statement is needed", async () => {
    const dir = process.env.AWS_CALL_RECORD_DIR;
    expect(dir, "the global setup records AWS calls").toBeTruthy();
    const records = readCallRecords(dir as string);
    const reader = await template;
    const localSecret = process.env.DATABASE_SECRET_ARN as string;
    expect(localSecret, "the local stack's database secret").toBeTruthy();
    const mapper = new EvidenceMapper(
      reader,
      localNames(loadServiceDefinition(ROOT_DIR, "local")),
      new Map([[localSecret, PACKAGED_SECRET_ARN]]),
    );
    const needs: Need[] = [
      ...records.flatMap((record) => mapper.needs(record)),
      ...mapper.eventSourceNeeds(),
    ];
    const roles = reader.functionRoles();
    const table = needsTable(roles, needs);
    writeFileSync(join(ROOT_DIR, ".local", "iam-table.md"), `${table}\n`);
    const findings = checkRoles(roles, needs);
    expect(findings.structure, "one role per function, no wildcards").toEqual([]);
    expect(findings.missing, "calls the roles do not allow (AccessDenied on AWS)").toEqual([]);
    expect(findings.unused, "statements no recorded call needs").toEqual([]);
    // Every function was driven, and did what its role allows.
    const called = new Set(needs.map((need) => need.function));
    for (const role of roles) {
      if (role.grants.length > 0) expect(called, `${role.name} made no call`).toContain(role.name);
    }
  }, 200_000);
});
