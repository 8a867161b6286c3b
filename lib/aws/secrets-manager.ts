import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { databaseConfig } from "../config.ts";
import { recordCalls } from "./call-recorder.ts";

let client: SecretsManagerClient | undefined;

/**
 * The Secrets Manager client, created once per container: it reads the chat database's
 * credentials (`lib/chat-db/database-credentials.ts`). Locally its endpoint is the emulator's.
 */
export function secretsManager(): SecretsManagerClient {
  if (!client) {
    const { region, secretsManagerEndpoint } = databaseConfig();
    client = recordCalls(new SecretsManagerClient({ region, endpoint: secretsManagerEndpoint }));
  }
  return client;
}
