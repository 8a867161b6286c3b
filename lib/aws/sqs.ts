import { SQSClient } from "@aws-sdk/client-sqs";
import { config } from "../config.ts";
import { recordCalls } from "./call-recorder.ts";

let client: SQSClient | undefined;

/**
 * The SQS client, created once per container. With an endpoint override the client talks to
 * that endpoint instead of the host named in the queue URL (local emulators use unresolvable hosts).
 */
export function sqs(): SQSClient {
  if (!client) {
    const { region, endpoints } = config();
    client = recordCalls(
      new SQSClient({
        region,
        endpoint: endpoints.sqs,
        useQueueUrlAsEndpoint: endpoints.sqs === undefined,
      }),
    );
  }
  return client;
}
