import { API_BASE } from "../../lib/http/openapi.ts";
import { assertDocumentedResponse } from "./openapi-check.ts";

/** A response with its body read: parsed JSON, or the text when it is not JSON. */
export interface ReadResponse {
  status: number;
  headers: Headers;
  body: unknown;
}

/** The body text as JSON when it parses, else the text itself. */
export function parseBody(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** True for a URL of the service's API (not a presigned storage URL, which is S3's answer). */
export function isApiUrl(url: URL): boolean {
  return url.pathname === API_BASE || url.pathname.startsWith(`${API_BASE}/`);
}

/**
 * What is wrong with an answer of the API at `url` by the OpenAPI document (an undocumented
 * status, a body that is not JSON or breaks the documented schema); undefined when nothing is,
 * or when `url` is not the API's.
 */
export function documentedProblem(
  method: string,
  url: URL,
  answer: { status: number; headers: Headers; text: string },
): string | undefined {
  if (!isApiUrl(url)) return undefined;
  try {
    assertDocumentedResponse(method, `${url.pathname}${url.search}`, {
      status: answer.status,
      headers: answer.headers,
      body: parseBody(answer.text),
    });
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/**
 * The test suite's one `fetch`: every answer of the API that a test receives is checked against
 * the OpenAPI document (an undocumented status or a body that breaks its schema fails the test).
 * Presigned storage URLs are fetched as they are: what S3 answers is not the API's to describe.
 */
export async function apiFetch(input: string | URL, init: RequestInit = {}): Promise<Response> {
  const url = new URL(input);
  // biome-ignore lint/style/noRestrictedGlobals: this is the wrapper every test goes through
  const response = await fetch(url, init);
  if (!isApiUrl(url)) return response;
  const problem = documentedProblem(init.method ?? "GET", url, {
    status: response.status,
    headers: response.headers,
    text: await response.clone().text(),
  });
  if (problem) throw new Error(problem);
  return response;
}
