import { randomUUID } from "node:crypto";
import { request, type Server } from "node:http";
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceExistsException,
  ResourceNotFoundException,
  SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOCAL_CREDENTIALS } from "../../scripts/local/local-credentials.ts";
import { startSecretsManager } from "../../scripts/local/secrets-manager.ts";

// The local Secrets Manager the stack's functions read the database login from, spoken to by
// the real SDK client exactly as on AWS.
let server: Server;
let endpoint: string;
let client: SecretsManagerClient;

function clientWith(credentials: { accessKeyId: string; secretAccessKey: string }) {
  // One attempt: a refused signature would otherwise be retried as a possible clock skew.
  return new SecretsManagerClient({ region: "us-east-1", endpoint, credentials, maxAttempts: 1 });
}

beforeAll(async () => {
  const started = await startSecretsManager(0, {
    region: "us-east-1",
    secretKeys: { [LOCAL_CREDENTIALS.accessKeyId]: LOCAL_CREDENTIALS.secretAccessKey },
  });
  server = started.server;
  endpoint = `http://127.0.0.1:${started.port}`;
  client = clientWith(LOCAL_CREDENTIALS);
});

afterAll(async () => {
  client?.destroy();
  await new Promise((resolve) => server?.close(resolve));
});

/** A GetSecretValue request without any signature. */
function unsignedRequest(body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const sent = request(
      endpoint,
      {
        method: "POST",
        headers: {
          "content-type": "application/x-amz-json-1.1",
          "x-amz-target": "secretsmanager.GetSecretValue",
        },
      },
      (response) => {
        let text = "";
        response.on("data", (chunk: Buffer) => {
          text += chunk.toString();
        });
        response.on("end", () => resolve({ status: response.statusCode ?? 0, body: text }));
      },
    );
    sent.once("error", reject);
    sent.end(body);
  });
}

const name = () => `test/db-${randomUUID().slice(0, 8)}`;

describe("the local Secrets Manager", () => {
  it("creates a secret with an ARN of Secrets Manager's shape and reads it by name or ARN", async () => {
    const secretName = name();
    const created = await client.send(
      new CreateSecretCommand({ Name: secretName, SecretString: '{"username":"a"}' }),
    );
    expect(created.ARN).toMatch(
      new RegExp(`^arn:aws:secretsmanager:us-east-1:\\d{12}:secret:${secretName}-[A-Za-z]{6}$`),
    );
    for (const id of [secretName, created.ARN as string]) {
      const read = await client.send(new GetSecretValueCommand({ SecretId: id }));
      expect(read).toMatchObject({
        ARN: created.ARN,
        Name: secretName,
        VersionId: created.VersionId,
        SecretString: '{"username":"a"}',
        VersionStages: ["AWSCURRENT"],
      });
      expect(read.CreatedDate).toBeInstanceOf(Date);
    }
  });

  it("moves AWSCURRENT to a new value and keeps the old one as AWSPREVIOUS", async () => {
    const secretName = name();
    const first = await client.send(
      new CreateSecretCommand({ Name: secretName, SecretString: "one" }),
    );
    const second = await client.send(
      new PutSecretValueCommand({ SecretId: secretName, SecretString: "two" }),
    );
    expect(second.VersionStages).toEqual(["AWSCURRENT"]);
    const third = await client.send(
      new PutSecretValueCommand({ SecretId: first.ARN, SecretString: "three" }),
    );
    const current = await client.send(new GetSecretValueCommand({ SecretId: secretName }));
    expect(current.SecretString).toBe("three");
    const previous = await client.send(
      new GetSecretValueCommand({ SecretId: secretName, VersionStage: "AWSPREVIOUS" }),
    );
    expect(previous.SecretString).toBe("two");
    const described = await client.send(new DescribeSecretCommand({ SecretId: secretName }));
    expect(described.VersionIdsToStages).toEqual({
      [second.VersionId as string]: ["AWSPREVIOUS"],
      [third.VersionId as string]: ["AWSCURRENT"],
    });
    expect(described.LastAccessedDate).toBeInstanceOf(Date);
    // The first version kept no label; it can still be read by its id.
    const byId = await client.send(
      new GetSecretValueCommand({ SecretId: secretName, VersionId: first.VersionId }),
    );
    expect(byId.SecretString).toBe("one");
  });

  it("answers a repeated request token idempotently, and refuses to change that version", async () => {
    const secretName = name();
    await client.send(new CreateSecretCommand({ Name: secretName, SecretString: "one" }));
    const token = randomUUID();
    const put = () =>
      new PutSecretValueCommand({
        SecretId: secretName,
        SecretString: "two",
        ClientRequestToken: token,
      });
    const a = await client.send(put());
    const b = await client.send(put());
    expect(b.VersionId).toBe(a.VersionId);
    expect(a.VersionId).toBe(token);
    await expect(
      client.send(
        new PutSecretValueCommand({
          SecretId: secretName,
          SecretString: "other",
          ClientRequestToken: token,
        }),
      ),
    ).rejects.toBeInstanceOf(ResourceExistsException);
  });

  it("answers Secrets Manager's errors as the SDK's exception classes", async () => {
    const secretName = name();
    await client.send(new CreateSecretCommand({ Name: secretName, SecretString: "x" }));
    await expect(
      client.send(new CreateSecretCommand({ Name: secretName, SecretString: "y" })),
    ).rejects.toBeInstanceOf(ResourceExistsException);
    const missing = client.send(new GetSecretValueCommand({ SecretId: "no/such/secret" }));
    await expect(missing).rejects.toBeInstanceOf(ResourceNotFoundException);
    await expect(missing).rejects.toThrow("Secrets Manager can't find the specified secret.");
    const empty = name();
    await client.send(new CreateSecretCommand({ Name: empty }));
    await expect(client.send(new GetSecretValueCommand({ SecretId: empty }))).rejects.toThrow(
      "can't find the specified secret value for staging label: AWSCURRENT",
    );
    await expect(
      client.send(new PutSecretValueCommand({ SecretId: secretName })),
    ).rejects.toMatchObject({ name: "InvalidRequestException" });
  });

  it("refuses requests signed with an unknown key or a wrong secret key, and a body changed after signing", async () => {
    const secretName = name();
    await client.send(new CreateSecretCommand({ Name: secretName, SecretString: "x" }));
    const stranger = clientWith({ accessKeyId: "AKIDSTRANGER", secretAccessKey: "S3RVER" });
    await expect(
      stranger.send(new GetSecretValueCommand({ SecretId: secretName })),
    ).rejects.toMatchObject({ name: "UnrecognizedClientException" });
    stranger.destroy();
    const wrongKey = clientWith({
      accessKeyId: LOCAL_CREDENTIALS.accessKeyId,
      secretAccessKey: "nope",
    });
    await expect(
      wrongKey.send(new GetSecretValueCommand({ SecretId: secretName })),
    ).rejects.toMatchObject({ name: "InvalidSignatureException" });
    wrongKey.destroy();

    // A request signed for one secret, sent with another secret's id in its body.
    const tampering = clientWith(LOCAL_CREDENTIALS);
    tampering.middlewareStack.add(
      (next) => async (args) => {
        const request = args.request as { body: string };
        // As long as the original, so that the signed Content-Length still fits.
        request.body = request.body.replace(secretName, secretName.replace("test/", "evil/"));
        return next(args);
      },
      { step: "deserialize", name: "tamperAfterSigning" },
    );
    await expect(
      tampering.send(new GetSecretValueCommand({ SecretId: secretName })),
    ).rejects.toMatchObject({ name: "InvalidSignatureException" });
    tampering.destroy();

    const unsigned = await unsignedRequest(JSON.stringify({ SecretId: secretName }));
    expect(unsigned.status).toBe(400);
    expect(JSON.parse(unsigned.body)).toMatchObject({
      __type: "MissingAuthenticationTokenException",
    });
  });
});
