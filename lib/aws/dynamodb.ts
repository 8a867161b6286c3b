import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { config } from "../config.ts";

let client: DynamoDBDocumentClient | undefined;

/** The DynamoDB document client, created once per container. */
export function dynamo(): DynamoDBDocumentClient {
  if (!client) {
    const { region, endpoints } = config();
    client = DynamoDBDocumentClient.from(
      new DynamoDBClient({ region, endpoint: endpoints.dynamodb }),
      { marshallOptions: { removeUndefinedValues: true } },
    );
  }
  return client;
}
