import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type PackagedService, packageService } from "./support/package-service.ts";

// biome-ignore lint/suspicious/noExplicitAny: a CloudFormation template is untyped JSON
type Resource = { Type: string; Properties: Record<string, any>; Condition?: string };
type Template = { Resources: Record<string, Resource>; Conditions?: Record<string, unknown> };

const NIGHTLY_CRON = "cron(30 1 * * ? *)";
const CONSUMERS = {
  exportWorker: "ExportQueue",
  importWorker: "ImportQueue",
  backupWorker: "BackupQueue",
  deadLetter: "DeadLetterQueue",
} as const;

let packaged: PackagedService;
let template: Template;

/** The logical id the framework gives a function's resources, e.g. `ExportWorker`. */
const logicalId = (name: string) => name[0]?.toUpperCase() + name.slice(1);

function resourcesOf(type: string): [string, Resource][] {
  return Object.entries(template.Resources).filter(([, resource]) => resource.Type === type);
}

function resource(id: string): Resource {
  const found = template.Resources[id];
  if (!found) throw new Error(`the template has no resource ${id}`);
  return found;
}

// The offline package step (in a copy of the service, see packageService).
beforeAll(async () => {
  packaged = await packageService("test", {
    NIGHTLY_CRON,
    API_THROTTLE_RATE: "25",
    API_THROTTLE_BURST: "50",
    ALARM_EMAIL: "ops@example.com",
  });
  template = packaged.template as Template;
}, 150_000);

afterAll(() => packaged?.remove());

describe("the packaged CloudFormation template", () => {
  it("routes every endpoint of the HTTP API, throttled", () => {
    const routes = resourcesOf("AWS::ApiGatewayV2::Route").map(([, r]) => r.Properties.RouteKey);
    expect(routes).toEqual(
      expect.arrayContaining([
        "POST /api/v2.1/rest/exports",
        "GET /api/v2.1/rest/exports",
        "GET /api/v2.1/rest/exports/{id}",
        "DELETE /api/v2.1/rest/exports/{id}",
        "POST /api/v2.1/rest/imports",
        "GET /api/v2.1/rest/imports",
        "GET /api/v2.1/rest/imports/{id}",
        "GET /api/v2.1/rest/openapi.json",
        "ANY /api/v2.1/rest/exports",
        "$default",
      ]),
    );
    const limits = resource("HttpApiStage").Properties.DefaultRouteSettings;
    expect(Number(limits.ThrottlingRateLimit)).toBe(25);
    expect(Number(limits.ThrottlingBurstLimit)).toBe(50);
  });

  it("redrives the export, import and backup queues to the dead-letter queue after 5 deliveries", () => {
    expect(
      resourcesOf("AWS::SQS::Queue")
        .map(([id]) => id)
        .sort(),
    ).toEqual(["BackupQueue", "DeadLetterQueue", "ExportQueue", "ImportQueue"]);
    for (const id of ["ExportQueue", "ImportQueue", "BackupQueue"]) {
      expect(resource(id).Properties.RedrivePolicy).toEqual({
        deadLetterTargetArn: { "Fn::GetAtt": ["DeadLetterQueue", "Arn"] },
        maxReceiveCount: 5,
      });
    }
  });

  it("lets every consumer report partial batch failures, within its queue's visibility timeout", () => {
    for (const [fn, queue] of Object.entries(CONSUMERS)) {
      const mapping = resourcesOf("AWS::Lambda::EventSourceMapping").find(
        ([, r]) => r.Properties.EventSourceArn?.["Fn::GetAtt"]?.[0] === queue,
      )?.[1];
      expect(mapping, `${fn} consumes ${queue}`).toBeDefined();
      expect(mapping?.Properties.FunctionName["Fn::GetAtt"][0]).toBe(
        `${logicalId(fn)}LambdaFunction`,
      );
      expect(mapping?.Properties.FunctionResponseTypes).toEqual(["ReportBatchItemFailures"]);
      const timeout = resource(`${logicalId(fn)}LambdaFunction`).Properties.Timeout;
      expect(timeout).toBeLessThan(Number(resource(queue).Properties.VisibilityTimeout));
    }
  });

  it("keeps job records with a TTL attribute and files in a private, encrypted, expiring, TLS-only bucket", () => {
    const table = resource("JobsTable").Properties;
    expect(table.TimeToLiveSpecification).toEqual({ AttributeName: "expiresAt", Enabled: true });
    const bucket = resource("FilesBucket").Properties;
    expect(bucket.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(bucket.BucketEncryption.ServerSideEncryptionConfiguration).toHaveLength(1);
    const rules = bucket.LifecycleConfiguration.Rules as Record<string, unknown>[];
    const prefixOf = (rule: Record<string, any>) => rule.Prefix ?? rule.Filter?.And?.Prefix;
    const tagOf = (rule: Record<string, any>) => rule.Filter?.And?.Tags?.[0]?.Value;
    expect(
      rules
        .filter((rule) => rule.ExpirationInDays !== undefined)
        .map((rule) => [prefixOf(rule), tagOf(rule), Number(rule.ExpirationInDays)]),
    ).toEqual([
      ["exports/", undefined, 30],
      // Backups: nightly sets are kept by the schedule (newest 7); storage expires them as a backstop.
      ["backups/", "nightly", 21],
      ["backups/", "api", 30],
      ["imports/", undefined, 30],
      // Uploaded import files are needed for a day at most, started or not.
      ["uploads/", undefined, 1],
    ]);
    // Unfinished multipart uploads of backup files are given up after two days.
    expect(rules).toContainEqual(
      expect.objectContaining({
        Prefix: "backups/",
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: 2 },
      }),
    );
    const statements = resource("FilesBucketPolicy").Properties.PolicyDocument.Statement;
    expect(statements).toContainEqual(
      expect.objectContaining({
        Effect: "Deny",
        Condition: { Bool: { "aws:SecureTransport": "false" } },
      }),
    );
  });

  it("fires the nightly export on the configured schedule", () => {
    const rules = resourcesOf("AWS::Events::Rule").map(([, r]) => r.Properties);
    expect(rules).toContainEqual(
      expect.objectContaining({
        ScheduleExpression: NIGHTLY_CRON,
        State: "ENABLED",
        Targets: [
          expect.objectContaining({
            Arn: { "Fn::GetAtt": ["NightlyExportLambdaFunction", "Arn"] },
          }),
        ],
      }),
    );
  });

  it("has a dashboard of jobs, queues, consumers and the API", () => {
    const [[, dashboard] = []] = resourcesOf("AWS::CloudWatch::Dashboard");
    const parts = dashboard?.Properties.DashboardBody["Fn::Join"][1] as unknown[];
    const body = parts.map((part) => (typeof part === "string" ? part : "api-id")).join("");
    const text = JSON.stringify(JSON.parse(body));
    for (const needle of [
      "ExportsStarted",
      "ImportsFinished",
      "ExportsFailed",
      "ImportsDeadLettered",
      "Rows",
      "DurationMs",
      "Bytes",
      "chat-data-backup-test-dead-letters",
      "chat-data-backup-test-exportWorker",
      "Throttles",
      "4xx",
      "5xx",
    ]) {
      expect(text).toContain(needle);
    }
  });

  it("alarms on dead letters, failed jobs, consumer errors and throttles, to an SNS topic with the email subscribed", () => {
    const alarms = resourcesOf("AWS::CloudWatch::Alarm").map(([, r]) => r.Properties);
    const watched = alarms.map(
      (a) => `${a.Namespace} ${a.MetricName} ${JSON.stringify(a.Dimensions)}`,
    );
    expect(watched).toContainEqual(
      expect.stringMatching(/^AWS\/SQS ApproximateNumberOfMessagesVisible .*DeadLetterQueue/),
    );
    const failedJobs = alarms.find((a) => a.AlarmName.endsWith("-jobs-failed"));
    const failedMetrics = (
      (failedJobs?.Metrics ?? []) as { MetricStat?: { Metric: { MetricName: string } } }[]
    ).flatMap((m) => (m.MetricStat ? [m.MetricStat.Metric.MetricName] : []));
    expect(new Set(failedMetrics)).toEqual(new Set(["ExportsFailed", "ImportsFailed"]));
    expect(failedMetrics).toHaveLength(6);
    for (const fn of ["exportWorker", "importWorker", "deadLetter", "nightlyExport"]) {
      for (const metric of ["Errors", "Throttles"]) {
        expect(watched).toContainEqual(
          `AWS/Lambda ${metric} ${JSON.stringify([{ Name: "FunctionName", Value: { Ref: `${logicalId(fn)}LambdaFunction` } }])}`,
        );
      }
    }
    for (const alarm of alarms) expect(alarm.AlarmActions).toEqual([{ Ref: "AlarmTopic" }]);
    expect(resource("AlarmTopic").Type).toBe("AWS::SNS::Topic");
    expect(resource("AlarmEmailSubscription").Properties).toMatchObject({
      Protocol: "email",
      Endpoint: "ops@example.com",
    });
  });

  it("runs every function on nodejs22.x under a role of its own, never a shared or default one", () => {
    const functions = resourcesOf("AWS::Lambda::Function");
    expect(functions.length).toBeGreaterThanOrEqual(13);
    const roleOf = (id: string) => resource(id).Properties.Role["Fn::GetAtt"][0];
    for (const [, fn] of functions) {
      expect(fn.Properties.Runtime).toBe("nodejs22.x");
      expect(resource(fn.Properties.Role["Fn::GetAtt"][0]).Type).toBe("AWS::IAM::Role");
    }
    expect(template.Resources.IamRoleLambdaExecution).toBeUndefined();
    expect(roleOf("ExportWorkerLambdaFunction")).toBe("ExportWorkerRole");
    expect(roleOf("ImportWorkerLambdaFunction")).toBe("ImportWorkerRole");
    expect(roleOf("DeadLetterLambdaFunction")).toBe("DeadLetterRole");
    expect(roleOf("NightlyExportLambdaFunction")).toBe("NightlyRole");
    expect(roleOf("ExportsListLambdaFunction")).toBe("ExportsListRole");
    // What each role holds is checked against the calls its function makes: tests/iam.test.ts.
    const roles = functions.map(([id]) => roleOf(id));
    expect(new Set(roles).size).toBe(roles.length);
  });

  it("puts no function in a VPC and gives no role network rights when no subnets are given", () => {
    for (const [id, fn] of resourcesOf("AWS::Lambda::Function")) {
      expect(fn.Properties.VpcConfig, id).toBeUndefined();
    }
    const conditions = template.Conditions as Record<string, any>;
    const inVpc = conditions.InVpc["Fn::Not"][0]["Fn::Equals"];
    expect(inVpc).toEqual(["", ""]);
  });
});
