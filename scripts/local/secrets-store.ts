import { randomUUID } from "node:crypto";
import { AwsJsonError } from "./signed-request-check.ts";

/**
 * The secrets of the local Secrets Manager (`secrets-manager.ts` serves them), in memory: the
 * operations CreateSecret, GetSecretValue, PutSecretValue and DescribeSecret with Secrets
 * Manager's validation, version ids, AWSCURRENT / AWSPREVIOUS staging labels and error types.
 */

interface SecretVersion {
  id: string;
  string?: string;
  binary?: string;
  created: number;
  stages: Set<string>;
}

interface Secret {
  arn: string;
  name: string;
  description?: string;
  kmsKeyId?: string;
  created: number;
  changed: number;
  accessed?: number;
  versions: Map<string, SecretVersion>;
}

type Input = Record<string, unknown>;

const ACCOUNT = "000000000000";
const CURRENT = "AWSCURRENT";
const PREVIOUS = "AWSPREVIOUS";
const MAX_SECRET_BYTES = 65536;
const NAME = /^[A-Za-z0-9/_+=.@-]{1,512}$/;
const SUFFIX_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

const seconds = (ms: number) => ms / 1000;

function notFound(): AwsJsonError {
  return new AwsJsonError(
    "ResourceNotFoundException",
    "Secrets Manager can't find the specified secret.",
  );
}

function stringField(input: Input, field: string, required: boolean): string | undefined {
  const value = input[field];
  if (value === undefined || value === null) {
    if (!required) return undefined;
    throw new AwsJsonError(
      "ValidationException",
      `1 validation error detected: Value null at '${field}' failed to satisfy constraint: Member must not be null`,
    );
  }
  if (typeof value !== "string") {
    throw new AwsJsonError("SerializationException", `${field} must be a string`);
  }
  return value;
}

/** The value a CreateSecret or PutSecretValue carries: exactly one of SecretString, SecretBinary. */
function secretValue(
  input: Input,
  required: boolean,
): { string?: string; binary?: string } | undefined {
  const string = stringField(input, "SecretString", false);
  const binary = stringField(input, "SecretBinary", false);
  if (string === undefined && binary === undefined) {
    if (!required) return undefined;
    throw new AwsJsonError(
      "InvalidRequestException",
      "You must provide either SecretString or SecretBinary.",
    );
  }
  if (string !== undefined && binary !== undefined) {
    throw new AwsJsonError(
      "InvalidParameterException",
      "You can't specify both SecretString and SecretBinary.",
    );
  }
  const bytes =
    string !== undefined
      ? Buffer.byteLength(string)
      : Buffer.from(binary as string, "base64").length;
  if (bytes > MAX_SECRET_BYTES) {
    throw new AwsJsonError(
      "ValidationException",
      `The secret value is larger than ${MAX_SECRET_BYTES} bytes.`,
    );
  }
  return string !== undefined ? { string } : { binary };
}

function versionToken(input: Input): string {
  const token = stringField(input, "ClientRequestToken", false);
  if (token === undefined) return randomUUID();
  if (token.length < 32 || token.length > 64) {
    throw new AwsJsonError(
      "ValidationException",
      "ClientRequestToken must be 32 to 64 characters long.",
    );
  }
  return token;
}

/** Secrets by ARN, and the operations on them. */
export class LocalSecretsManager {
  private readonly secrets = new Map<string, Secret>();

  constructor(private readonly region: string) {}

  /** Finds a secret by name, full ARN, or ARN without its random suffix, as Secrets Manager does. */
  private find(id: string | undefined): Secret {
    for (const secret of this.secrets.values()) {
      if (id === secret.name || id === secret.arn || id === secret.arn.slice(0, -7)) return secret;
    }
    throw notFound();
  }

  /** Gives `version` the labels, taking them from the versions that had them (AWSCURRENT's holder becomes AWSPREVIOUS). */
  private stage(secret: Secret, version: SecretVersion, labels: string[]): void {
    for (const label of labels) {
      for (const other of secret.versions.values()) {
        if (other === version || !other.stages.has(label)) continue;
        other.stages.delete(label);
        if (label === CURRENT) {
          for (const older of secret.versions.values()) older.stages.delete(PREVIOUS);
          other.stages.add(PREVIOUS);
        }
      }
      version.stages.add(label);
    }
  }

  private addVersion(
    secret: Secret,
    id: string,
    value: { string?: string; binary?: string },
    labels: string[],
  ) {
    const existing = secret.versions.get(id);
    if (existing) {
      if (existing.string !== value.string || existing.binary !== value.binary) {
        throw new AwsJsonError(
          "ResourceExistsException",
          "You can't modify an existing version, you can only create a new version.",
        );
      }
      return existing;
    }
    const version: SecretVersion = { id, ...value, created: Date.now(), stages: new Set() };
    secret.versions.set(id, version);
    this.stage(secret, version, labels);
    secret.changed = Date.now();
    return version;
  }

  /** Answers one operation of the protocol. */
  handle(operation: string, input: Input): Input {
    switch (operation) {
      case "CreateSecret": {
        const name = stringField(input, "Name", true) as string;
        if (!NAME.test(name)) {
          throw new AwsJsonError(
            "ValidationException",
            "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!",
          );
        }
        if ([...this.secrets.values()].some((secret) => secret.name === name)) {
          throw new AwsJsonError(
            "ResourceExistsException",
            `The operation failed because the secret ${name} already exists.`,
          );
        }
        const suffix = Array.from(
          { length: 6 },
          () => SUFFIX_CHARS[Math.floor(Math.random() * SUFFIX_CHARS.length)],
        ).join("");
        const now = Date.now();
        const secret: Secret = {
          arn: `arn:aws:secretsmanager:${this.region}:${ACCOUNT}:secret:${name}-${suffix}`,
          name,
          description: stringField(input, "Description", false),
          kmsKeyId: stringField(input, "KmsKeyId", false),
          created: now,
          changed: now,
          versions: new Map(),
        };
        const value = secretValue(input, false);
        const token = versionToken(input);
        this.secrets.set(secret.arn, secret);
        if (!value) return { ARN: secret.arn, Name: name };
        const version = this.addVersion(secret, token, value, [CURRENT]);
        return { ARN: secret.arn, Name: name, VersionId: version.id };
      }
      case "PutSecretValue": {
        const secret = this.find(stringField(input, "SecretId", true));
        const value = secretValue(input, true) as { string?: string; binary?: string };
        const labels =
          input.VersionStages === undefined ? [CURRENT] : (input.VersionStages as string[]);
        if (!Array.isArray(labels) || labels.some((label) => typeof label !== "string")) {
          throw new AwsJsonError(
            "SerializationException",
            "VersionStages must be a list of strings",
          );
        }
        const version = this.addVersion(secret, versionToken(input), value, labels);
        return {
          ARN: secret.arn,
          Name: secret.name,
          VersionId: version.id,
          VersionStages: [...version.stages],
        };
      }
      case "GetSecretValue": {
        const secret = this.find(stringField(input, "SecretId", true));
        const versionId = stringField(input, "VersionId", false);
        const label =
          stringField(input, "VersionStage", false) ?? (versionId ? undefined : CURRENT);
        const version = [...secret.versions.values()].find(
          (candidate) =>
            (!versionId || candidate.id === versionId) && (!label || candidate.stages.has(label)),
        );
        if (!version) {
          throw new AwsJsonError(
            "ResourceNotFoundException",
            `Secrets Manager can't find the specified secret value for ${versionId ? `VersionId: ${versionId}` : `staging label: ${label}`}`,
          );
        }
        // Secrets Manager keeps the day of the last access, not the instant.
        secret.accessed = new Date(new Date().toISOString().slice(0, 10)).getTime();
        return {
          ARN: secret.arn,
          Name: secret.name,
          VersionId: version.id,
          ...(version.string !== undefined
            ? { SecretString: version.string }
            : { SecretBinary: version.binary }),
          VersionStages: [...version.stages],
          CreatedDate: seconds(version.created),
        };
      }
      case "DescribeSecret": {
        const secret = this.find(stringField(input, "SecretId", true));
        const stages: Record<string, string[]> = {};
        for (const version of secret.versions.values()) {
          if (version.stages.size > 0) stages[version.id] = [...version.stages];
        }
        return {
          ARN: secret.arn,
          Name: secret.name,
          ...(secret.description !== undefined ? { Description: secret.description } : {}),
          ...(secret.kmsKeyId !== undefined ? { KmsKeyId: secret.kmsKeyId } : {}),
          CreatedDate: seconds(secret.created),
          LastChangedDate: seconds(secret.changed),
          ...(secret.accessed !== undefined ? { LastAccessedDate: seconds(secret.accessed) } : {}),
          VersionIdsToStages: stages,
        };
      }
      default:
        throw new AwsJsonError(
          "UnknownOperationException",
          `The operation ${operation} is not served by the local Secrets Manager.`,
        );
    }
  }
}
