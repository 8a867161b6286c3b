// biome-ignore-all lint/suspicious/noExplicitAny: a CloudFormation template is untyped JSON

/**
 * Reads the IAM side of a packaged CloudFormation template: each function's role, the
 * statements that role holds, with every resource written as the ARN CloudFormation would make
 * of it (Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::If, Fn::Select resolved).
 */

export type Resource = { Type: string; Properties: Record<string, any>; Condition?: string };
export interface Template {
  Resources: Record<string, Resource>;
  Parameters?: Record<string, { Default?: unknown }>;
  Conditions?: Record<string, unknown>;
}

export const REGION = "us-east-1";
export const ACCOUNT = "123456789012";

/** Managed policies a role may hold besides its own statements: logs, and network interfaces in a VPC. */
export const ALLOWED_MANAGED_POLICIES = [
  "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
  "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
];

/** One allowed or denied (action, resource) pair of a role, and where it is written. */
export interface Grant {
  effect: "Allow" | "Deny";
  action: string;
  resource: string;
  /** `RoleId/policy-name#statement-index` */
  where: string;
  condition?: unknown;
}

export interface FunctionRole {
  /** The function's name in `serverless.yml` (`exportWorker`). */
  name: string;
  roleId: string;
  managedPolicies: string[];
  grants: Grant[];
}

const PSEUDO: Record<string, string> = {
  "AWS::Region": REGION,
  "AWS::AccountId": ACCOUNT,
  "AWS::Partition": "aws",
  "AWS::URLSuffix": "amazonaws.com",
  "AWS::StackName": "stack",
};

export class TemplateReader {
  constructor(readonly template: Template) {}

  resource(id: string): Resource {
    const found = this.template.Resources[id];
    if (!found) throw new Error(`the template has no resource ${id}`);
    return found;
  }

  /** The ARN CloudFormation gives resource `id` (`Fn::GetAtt [id, Arn]`). */
  arnOf(id: string): string {
    const { Type, Properties: p } = this.resource(id);
    const name = (key: string) => this.text(p[key]);
    switch (Type) {
      case "AWS::DynamoDB::Table":
        return `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${name("TableName")}`;
      case "AWS::SQS::Queue":
        return `arn:aws:sqs:${REGION}:${ACCOUNT}:${name("QueueName")}`;
      case "AWS::S3::Bucket":
        return `arn:aws:s3:::${name("BucketName")}`;
      case "AWS::SNS::Topic":
        return `arn:aws:sns:${REGION}:${ACCOUNT}:${name("TopicName")}`;
      case "AWS::SecretsManager::Secret":
        return `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${name("Name")}-??????`;
      case "AWS::Lambda::Function":
        return `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name("FunctionName")}`;
      case "AWS::IAM::Role":
        return `arn:aws:iam::${ACCOUNT}:role/${id}`;
      default:
        throw new Error(`no ARN known for ${id} (${Type})`);
    }
  }

  /** What `Ref` gives for resource or parameter `id`. */
  refOf(id: string): string | undefined {
    if (id in PSEUDO) return PSEUDO[id];
    if (id === "AWS::NoValue") return undefined;
    const parameter = this.template.Parameters?.[id];
    if (parameter) return parameter.Default === undefined ? `{${id}}` : String(parameter.Default);
    const { Type, Properties: p } = this.resource(id);
    if (Type === "AWS::SQS::Queue") {
      return `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${this.text(p.QueueName)}`;
    }
    if (Type === "AWS::DynamoDB::Table") return this.text(p.TableName);
    if (Type === "AWS::S3::Bucket") return this.text(p.BucketName);
    return this.arnOf(id);
  }

  condition(name: string): boolean {
    return Boolean(this.evaluate(this.template.Conditions?.[name]));
  }

  /** Evaluates an intrinsic-laden value into plain JSON. */
  evaluate(value: any): any {
    if (Array.isArray(value)) {
      return value.map((item) => this.evaluate(item)).filter((item) => item !== undefined);
    }
    if (!value || typeof value !== "object") return value;
    const [fn, arg] = Object.entries(value)[0] ?? [];
    switch (fn) {
      case "Ref":
        return this.refOf(arg as string);
      case "Fn::GetAtt": {
        const [id, attribute] = Array.isArray(arg) ? arg : String(arg).split(".");
        if (attribute !== "Arn") throw new Error(`Fn::GetAtt ${id}.${attribute} is not resolved`);
        return this.arnOf(id);
      }
      case "Fn::Join": {
        const [separator, parts] = arg as [string, unknown[]];
        return (this.evaluate(parts) as unknown[]).join(separator);
      }
      case "Fn::Sub":
        return this.sub(arg);
      case "Fn::Select": {
        const [index, list] = arg as [number, unknown];
        return (this.evaluate(list) as unknown[])[Number(this.evaluate(index))];
      }
      case "Fn::Split": {
        const [separator, text] = arg as [string, unknown];
        return String(this.evaluate(text)).split(separator);
      }
      case "Fn::If": {
        const [name, yes, no] = arg as [string, unknown, unknown];
        return this.evaluate(this.condition(name) ? yes : no);
      }
      case "Fn::Equals": {
        const [a, b] = this.evaluate(arg) as unknown[];
        return JSON.stringify(a) === JSON.stringify(b);
      }
      case "Fn::Not":
        return !(this.evaluate(arg) as unknown[])[0];
      case "Fn::And":
        return (this.evaluate(arg) as unknown[]).every(Boolean);
      case "Fn::Or":
        return (this.evaluate(arg) as unknown[]).some(Boolean);
      case "Condition":
        return this.condition(arg as string);
      default:
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.evaluate(v)]));
    }
  }

  private text(value: unknown): string {
    const text = this.evaluate(value);
    if (typeof text !== "string") throw new Error(`expected a string, got ${JSON.stringify(text)}`);
    return text;
  }

  private sub(arg: unknown): string {
    const [text, variables] = Array.isArray(arg) ? arg : [arg, {}];
    return String(text).replace(/\$\{(!?)([^}]+)\}/g, (whole, literal: string, name: string) => {
      if (literal) return whole.replace("${!", "${");
      if (name in variables) return String(this.evaluate(variables[name]));
      const [id, attribute] = name.split(".");
      if (attribute) return this.evaluate({ "Fn::GetAtt": [id, attribute] });
      return String(this.refOf(id as string));
    });
  }

  /** Every Lambda function with its role, and what that role allows and denies. */
  functionRoles(): FunctionRole[] {
    const resources = Object.entries(this.template.Resources);
    return resources
      .filter(([, r]) => r.Type === "AWS::Lambda::Function")
      .map(([id, fn]) => {
        const name = id.replace(/LambdaFunction$/, "").replace(/^./, (c) => c.toLowerCase());
        const roleRef = fn.Properties.Role;
        const roleId = roleRef?.["Fn::GetAtt"]?.[0];
        if (typeof roleId !== "string" || this.resource(roleId).Type !== "AWS::IAM::Role") {
          throw new Error(`${name} does not run under a role of this template: ${roleRef}`);
        }
        const role = this.resource(roleId).Properties;
        const documents: [string, any][] = (role.Policies ?? []).map((policy: any) => [
          `${roleId}/${policy.PolicyName}`,
          policy.PolicyDocument,
        ]);
        // Policies attached from outside the role (AWS::IAM::Policy, AWS::IAM::ManagedPolicy).
        for (const [policyId, policy] of resources) {
          if (policy.Type !== "AWS::IAM::Policy" && policy.Type !== "AWS::IAM::ManagedPolicy")
            continue;
          const roles = (policy.Properties.Roles ?? []) as unknown[];
          if (roles.some((r: any) => r?.Ref === roleId || r === roleId)) {
            documents.push([policyId, policy.Properties.PolicyDocument]);
          }
        }
        return {
          name,
          roleId,
          managedPolicies: (this.evaluate(role.ManagedPolicyArns ?? []) as string[]).map(String),
          grants: documents.flatMap(([where, document]) => this.grants(where, document)),
        };
      });
  }

  private grants(where: string, document: any): Grant[] {
    // A statement may be an `Fn::If` (AWS::NoValue drops it).
    const statements = this.evaluate([document?.Statement ?? []].flat()) as any[];
    return statements.flatMap((statement, index) => {
      if (statement.NotAction || statement.NotResource) {
        throw new Error(`${where}#${index}: NotAction/NotResource cannot be checked`);
      }
      const actions = [statement.Action].flat().map(String);
      const resources = [this.evaluate(statement.Resource)].flat().map(String);
      return actions.flatMap((action) =>
        resources.map((resource) => ({
          effect: statement.Effect,
          action,
          resource,
          where: `${where}#${index}`,
          condition: statement.Condition,
        })),
      );
    });
  }
}

/** IAM's wildcards: `*` any run of characters, `?` one character. */
export function wildcardMatch(pattern: string, value: string, ignoreCase = false): boolean {
  const source = pattern
    .split("")
    .map((c) => (c === "*" ? ".*" : c === "?" ? "." : c.replace(/[.+^${}()|[\]\\]/g, "\\$&")))
    .join("");
  return new RegExp(`^${source}$`, ignoreCase ? "is" : "s").test(value);
}
