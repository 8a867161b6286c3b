import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type PackagedService, packageService } from "./support/package-service.ts";

// The template as deployed into a VPC with the database behind RDS Proxy (docs/deploy.md), built
// offline by `npm run package` with every deploy-time parameter set.

const SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:chat-db-AbCdEf";
const KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const PROXY = "chat.proxy-abc123.eu-west-1.rds.amazonaws.com";
// Whatever the deployer's shell holds, no password reaches the package.
const PASSWORD = "Sentinel-Passw0rd-4f1c9e";

/**
 * Functions that never open a chat database connection (no authentication and no chat data).
 */
const WITHOUT_DATABASE = new Set(["openApi", "methodNotAllowed", "notFound"]);

let packaged: PackagedService;
let resources: Record<string, { Type: string; Properties: Record<string, any> }>;

beforeAll(async () => {
  packaged = await packageService("prod", {
    AWS_REGION: "eu-west-1",
    VPC_SUBNET_IDS: "subnet-0aa,subnet-0bb",
    VPC_SECURITY_GROUP_IDS: "sg-0cc",
    DATABASE_HOST: PROXY,
    DATABASE_NAME: "chat",
    DATABASE_SECRET_ARN: SECRET_ARN,
    DATABASE_SECRET_KMS_KEY_ARN: KEY_ARN,
    DATABASE_URL: `postgres://chat:${PASSWORD}@${PROXY}:5432/chat`,
    DATABASE_PASSWORD: PASSWORD,
    PGPASSWORD: PASSWORD,
    LOCAL_DB_PASSWORD: PASSWORD,
    // The connection budget of a smaller database than the default's.
    DB_CONNECTION_BUDGET: "300",
    HTTP_RESERVED_CONCURRENCY: "4",
    IMPORT_WORKER_CONCURRENCY: "30",
  });
  resources = packaged.template.Resources;
}, 150_000);

afterAll(() => packaged?.remove());

function functions(): [string, Record<string, any>][] {
  return Object.entries(resources)
    .filter(([, resource]) => resource.Type === "AWS::Lambda::Function")
    .map(([id, resource]) => [id.replace(/LambdaFunction$/, ""), resource.Properties]);
}

const nameOf = (logicalId: string) => logicalId[0]?.toLowerCase() + logicalId.slice(1);

function policiesOf(fn: Record<string, any>): Record<string, any>[] {
  return resources[fn.Role["Fn::GetAtt"][0]]?.Properties.Policies ?? [];
}

describe("the template deployed into a VPC, with the database's login in Secrets Manager", () => {
  it("puts every function in the given private subnets and security groups", () => {
    expect(functions().length).toBeGreaterThanOrEqual(20);
    for (const [, fn] of functions()) {
      expect(fn.VpcConfig).toEqual({
        SubnetIds: ["subnet-0aa", "subnet-0bb"],
        SecurityGroupIds: ["sg-0cc"],
      });
    }
    // ...and lets Lambda attach their network interfaces.
    const inVpc = packaged.template.Conditions.InVpc["Fn::Not"][0]["Fn::Equals"];
    expect(inVpc[0]).not.toBe(inVpc[1]);
    for (const [, fn] of functions()) {
      const role = resources[fn.Role["Fn::GetAtt"][0]]?.Properties;
      expect(JSON.stringify(role?.ManagedPolicyArns)).toContain("AWSLambdaVPCAccessExecutionRole");
    }
  });

  it("tells every function where the database is and which secret holds its login, verifying TLS", () => {
    for (const [, fn] of functions()) {
      expect(fn.Environment.Variables).toMatchObject({
        DATABASE_HOST: PROXY,
        DATABASE_PORT: "5432",
        DATABASE_NAME: "chat",
        DATABASE_SECRET_ARN: SECRET_ARN,
        DATABASE_TLS: "verify-full",
      });
      const names = Object.keys(fn.Environment.Variables).join(" ");
      expect(names).not.toMatch(/PASSWORD|PASSWD|DATABASE_URL/);
    }
  });

  it("lets each function that connects read that one secret, decrypting it with its key through Secrets Manager only", () => {
    for (const [id, fn] of functions()) {
      const secretPolicies = policiesOf(fn).filter((p) =>
        JSON.stringify(p).includes("secretsmanager:"),
      );
      if (WITHOUT_DATABASE.has(nameOf(id))) {
        expect(secretPolicies, `${id} reads no secret`).toEqual([]);
        continue;
      }
      expect(secretPolicies, `${id} reads the database secret`).toHaveLength(1);
      const [read, decrypt] = (secretPolicies[0] as Record<string, any>).PolicyDocument.Statement;
      expect(read).toEqual({
        Effect: "Allow",
        Action: ["secretsmanager:GetSecretValue"],
        Resource: SECRET_ARN,
      });
      expect(decrypt["Fn::If"][0]).toBe("HasDatabaseSecretKey");
      expect(decrypt["Fn::If"][1]).toEqual({
        Effect: "Allow",
        Action: ["kms:Decrypt"],
        Resource: KEY_ARN,
        Condition: { StringEquals: { "kms:ViaService": "secretsmanager.eu-west-1.amazonaws.com" } },
      });
    }
  });

  it("holds no password anywhere in the package: template, state, or bundled code", () => {
    expect(packaged.files.map((file) => file.name)).toEqual(
      expect.arrayContaining(["cloudformation-template-update-stack.json", "chat-data-backup.zip"]),
    );
    for (const file of packaged.files) {
      expect(file.text.includes(PASSWORD), `${file.name} holds the password`).toBe(false);
      expect(file.text, file.name).not.toMatch(/postgres(ql)?:\/\/[^:/\s"]+:[^@/\s"]+@/);
    }
  });

  it("holds the functions' database connections within the budget: reserved concurrency x pool size, summed", () => {
    let total = 0;
    for (const [id, fn] of functions()) {
      if (WITHOUT_DATABASE.has(nameOf(id))) {
        expect(fn.Environment?.Variables?.PG_POOL_MAX, `${id} opens no pool`).toBeUndefined();
        continue;
      }
      const reserved = fn.ReservedConcurrentExecutions;
      const pool = Number(fn.Environment.Variables.PG_POOL_MAX);
      expect(Number.isInteger(reserved) && reserved >= 1, `${id} has a reserved concurrency`).toBe(
        true,
      );
      expect(Number.isInteger(pool) && pool >= 1, `${id} has a pool size`).toBe(true);
      total += reserved * pool;
    }
    // 15 routes 4x2, export and backup workers 10x3, import worker 30x3, the schedule 1x2, dead letters 2x2.
    expect(total).toBe(15 * 4 * 2 + 10 * 3 + 30 * 3 + 10 * 3 + 2 + 4);
    expect(total).toBeLessThanOrEqual(300);
    const output = packaged.template.Outputs.ChatDatabaseConnections.Value as string;
    expect(output.startsWith(`${total} of 300 connections: `), output).toBe(true);
    // A queue never starts more invocations than its worker may run.
    for (const [id, mapping] of Object.entries(resources)) {
      if (mapping.Type !== "AWS::Lambda::EventSourceMapping") continue;
      const fnId = mapping.Properties.FunctionName["Fn::GetAtt"][0] as string;
      const reserved = resources[fnId]?.Properties.ReservedConcurrentExecutions;
      if (reserved === undefined) continue;
      expect(mapping.Properties.ScalingConfig?.MaximumConcurrency, id).toBe(reserved);
    }
  });
});
