import { ConditionalCheckFailedException, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { config } from "../config.ts";
import { recordCalls } from "./call-recorder.ts";

let client: DynamoDBClient | undefined;
let documentClient: DynamoDBDocumentClient | undefined;

/** The low-level DynamoDB client, created once per container. */
export function dynamoClient(): DynamoDBClient {
  if (!client) {
    const { region, endpoints } = config();
    client = recordCalls(new DynamoDBClient({ region, endpoint: endpoints.dynamodb }));
  }
  return client;
}

/** The DynamoDB document client (plain JavaScript values), created once per container. */
export function dynamo(): DynamoDBDocumentClient {
  documentClient ??= DynamoDBDocumentClient.from(dynamoClient(), {
    marshallOptions: { removeUndefinedValues: true },
  });
  return documentClient;
}

/** Runs a conditional write; false when its condition failed, any other error thrown. */
export async function conditionally(write: () => Promise<unknown>): Promise<boolean> {
  try {
    await write();
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
}
