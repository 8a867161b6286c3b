import type { APIGatewayProxyEventV2 } from "aws-lambda";
import busboy from "busboy";
import { BadRequestError, PayloadTooLargeError, UnsupportedMediaTypeError } from "../errors.ts";
import type { UploadedFile as ImportedFile } from "../imports/import-jobs.ts";

/** A file of a multipart form, with the content type its sender gave it. */
export interface UploadedFile extends ImportedFile {
  contentType: string;
}

export interface ParsedForm {
  fields: Record<string, string>;
  files: UploadedFile[];
}

function rawBody(event: APIGatewayProxyEventV2): Buffer {
  if (!event.body) return Buffer.alloc(0);
  return Buffer.from(event.body, event.isBase64Encoded ? "base64" : "utf8");
}

function mediaType(headers: Record<string, string>): string {
  return (headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
}

function malformedMultipart(): BadRequestError {
  return new BadRequestError("malformed multipart body", [
    "the multipart/form-data body is cut short or does not match its boundary",
  ]);
}

/**
 * Parses `multipart/form-data`. A file above `maxFileBytes` is a 413; at most one file.
 */
export function parseMultipart(
  event: APIGatewayProxyEventV2,
  headers: Record<string, string>,
  maxFileBytes: number,
): Promise<ParsedForm> {
  return new Promise((resolve, reject) => {
    const form: ParsedForm = { fields: {}, files: [] };
    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers: { "content-type": headers["content-type"] },
        // busboy reports the limit when a file reaches it: one byte more lets exactly max pass.
        limits: {
          fileSize: maxFileBytes + 1,
          files: 1,
          fields: 20,
          fieldSize: 64 * 1024,
          parts: 30,
        },
        defParamCharset: "utf8",
      });
    } catch {
      reject(
        new BadRequestError("malformed multipart body", ["the multipart boundary is missing"]),
      );
      return;
    }
    let failure: Error | undefined;
    parser.on("field", (name, value) => {
      form.fields[name] = value;
    });
    parser.on("file", (fieldName, stream, info) => {
      const chunks: Buffer[] = [];
      // A file part cut short errors on its own stream too: without a listener that would be
      // an unhandled 'error' event, i.e. a crashed process.
      stream.on("error", () => {
        failure ??= malformedMultipart();
      });
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("limit", () => {
        failure ??= new PayloadTooLargeError("file too large", [
          `the file must be at most ${maxFileBytes} bytes (4 MiB)`,
        ]);
      });
      stream.on("end", () => {
        form.files.push({
          fieldName,
          filename: info.filename ?? "",
          contentType: info.mimeType,
          content: Buffer.concat(chunks),
        });
      });
    });
    parser.on("filesLimit", () => {
      failure ??= new BadRequestError("too many files", [
        'send exactly one file in the field "file"',
      ]);
    });
    parser.on("error", () => reject(failure ?? malformedMultipart()));
    parser.on("close", () => (failure ? reject(failure) : resolve(form)));
    try {
      parser.end(rawBody(event));
    } catch {
      reject(malformedMultipart());
    }
  });
}

/** Parses a JSON object, urlencoded form or multipart form body into string fields. */
export async function parseFields(
  event: APIGatewayProxyEventV2,
  headers: Record<string, string>,
): Promise<Record<string, unknown>> {
  const body = rawBody(event);
  const type = mediaType(headers);
  if (body.length === 0) return {};
  if (type === "application/json" || type.endsWith("+json"))
    return jsonObject(jsonText(body, headers));
  if (type === "application/x-www-form-urlencoded") {
    return Object.fromEntries(new URLSearchParams(body.toString("utf8")));
  }
  if (type === "multipart/form-data") {
    return (await parseMultipart(event, headers, 64 * 1024)).fields;
  }
  throw new UnsupportedMediaTypeError("unsupported content type", [
    "send application/json, application/x-www-form-urlencoded or multipart/form-data",
  ]);
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** A JSON body is UTF-8 (RFC 8259): another declared charset, or bytes that are not, are a 400. */
function jsonText(body: Buffer, headers: Record<string, string>): string {
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(headers["content-type"] ?? "")?.[1];
  if (charset && !/^utf-?8$/i.test(charset)) {
    throw new BadRequestError("malformed JSON body", [
      `the request body must be UTF-8 JSON, not ${charset.slice(0, 40)}`,
    ]);
  }
  try {
    return strictUtf8.decode(body);
  } catch {
    throw new BadRequestError("malformed JSON body", ["the request body is not valid UTF-8"]);
  }
}

function jsonObject(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new BadRequestError("malformed JSON body", ["the request body is not valid JSON"]);
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) {
    throw new BadRequestError("malformed JSON body", ["the request body must be a JSON object"]);
  }
  return value as Record<string, unknown>;
}

/** Parses a body that must be one JSON object (415 for another content type, 400 when malformed). */
export function parseJsonObject(
  event: APIGatewayProxyEventV2,
  headers: Record<string, string>,
): Record<string, unknown> {
  const type = mediaType(headers);
  if (type !== "application/json" && !type.endsWith("+json")) {
    throw new UnsupportedMediaTypeError("unsupported content type", ["send application/json"]);
  }
  return jsonObject(jsonText(rawBody(event), headers));
}
