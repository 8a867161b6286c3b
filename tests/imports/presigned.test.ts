import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { s3 } from "../../lib/aws/s3.ts";
import { config } from "../../lib/config.ts";
import { presignUpload, uploadObjectKey } from "../../lib/imports/upload-files.ts";
import { presignDownload } from "../../lib/jobs/files.ts";
import { apiFetch } from "../support/api-fetch.ts";
import { call, newApp, type TestApp } from "../support/harness.ts";
import { user } from "./support.ts";

const UPLOADS = "/api/v2.1/rest/imports/uploads";
const IMPORTS = "/api/v2.1/rest/imports";

async function requestUpload(app: TestApp, extra: Record<string, unknown> = {}) {
  const response = await call("POST", UPLOADS, {
    app,
    json: { type: "users", filename: "users.json", ...extra },
  });
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  return response.body.results.upload as { upload_id: string; upload_url: string };
}

async function put(url: string, body: string, headers: Record<string, string> = {}) {
  const response = await apiFetch(url, { method: "PUT", body, headers });
  return { status: response.status, text: await response.text() };
}

async function stored(key: string): Promise<boolean> {
  try {
    await s3().send(new HeadObjectCommand({ Bucket: config().bucketName, Key: key }));
    return true;
  } catch {
    return false;
  }
}

/** S3's XML error: `<Error><Code>...</Code><Message>...</Message>...`. */
function s3Error(text: string): { code?: string; message?: string } {
  return {
    code: /<Code>([^<]*)<\/Code>/.exec(text)?.[1],
    message: /<Message>([^<]*)<\/Message>/.exec(text)?.[1],
  };
}

const FILE = JSON.stringify([user()]);

describe("presigned upload URLs, checked by the local S3 as S3 checks them", () => {
  it("given an upload URL, when the file is PUT before it expires, then it is stored under its own key", async () => {
    const app = await newApp();
    const upload = await requestUpload(app);
    expect((await put(upload.upload_url, FILE)).status).toBe(200);
    expect(await stored(uploadObjectKey(app.appId, upload.upload_id))).toBe(true);
  });

  it("given an upload URL with another key, when PUT, then 403 SignatureDoesNotMatch and nothing is written there", async () => {
    const app = await newApp();
    const mine = await requestUpload(app);
    const victim = await newApp();
    const target = uploadObjectKey(victim.appId, "00000000-0000-4000-8000-000000000000");
    const url = new URL(mine.upload_url);
    url.pathname = `/${config().bucketName}/${target}`;
    const answer = await put(url.href, FILE);
    expect(answer.status).toBe(403);
    expect(s3Error(answer.text).code).toBe("SignatureDoesNotMatch");
    expect(await stored(target)).toBe(false);
    // Its own key still takes the file.
    expect((await put(mine.upload_url, FILE)).status).toBe(200);
  });

  it("given an upload URL with a longer expiry or another signature, when PUT, then 403 SignatureDoesNotMatch and nothing is written", async () => {
    const app = await newApp();
    const upload = await requestUpload(app);
    const key = uploadObjectKey(app.appId, upload.upload_id);

    const longer = new URL(upload.upload_url);
    longer.searchParams.set("X-Amz-Expires", "604800");
    const extended = await put(longer.href, FILE);
    expect(extended.status).toBe(403);
    expect(s3Error(extended.text).code).toBe("SignatureDoesNotMatch");

    const forged = new URL(upload.upload_url);
    const signature = forged.searchParams.get("X-Amz-Signature") as string;
    const flipped = `${signature.slice(0, -1)}${signature.endsWith("0") ? "1" : "0"}`;
    forged.searchParams.set("X-Amz-Signature", flipped);
    const wrong = await put(forged.href, FILE);
    expect(wrong.status).toBe(403);
    expect(s3Error(wrong.text).code).toBe("SignatureDoesNotMatch");

    const redated = new URL(upload.upload_url);
    redated.searchParams.set("X-Amz-Date", "20991231T000000Z");
    expect((await put(redated.href, FILE)).status).toBe(403);
    expect(await stored(key)).toBe(false);
  });

  it("given an upload URL past its expiry, when PUT, then 403 AccessDenied 'Request has expired' and nothing is written", async () => {
    const app = await newApp();
    const key = uploadObjectKey(app.appId, "11111111-1111-4111-8111-111111111111");
    const url = await presignUpload(key, 1);
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const answer = await put(url, FILE);
    expect(answer.status).toBe(403);
    expect(s3Error(answer.text)).toEqual({ code: "AccessDenied", message: "Request has expired" });
    expect(await stored(key)).toBe(false);
  });

  it("given an upload asked for with its size, when a body of another size is PUT, then 403; the announced size is stored", async () => {
    const app = await newApp();
    const upload = await requestUpload(app, { size: Buffer.byteLength(FILE) });
    expect(new URL(upload.upload_url).searchParams.get("X-Amz-SignedHeaders")).toContain(
      "content-length",
    );
    const bigger = await put(upload.upload_url, `${FILE}    `);
    expect(bigger.status).toBe(403);
    expect(s3Error(bigger.text).code).toBe("SignatureDoesNotMatch");
    expect((await put(upload.upload_url, FILE)).status).toBe(200);
    const started = await call("POST", IMPORTS, {
      app,
      json: { type: "users", upload_id: upload.upload_id },
    });
    expect(started.status).toBe(200);
  });

  it("given a size above the largest file, when an upload is asked for, then 413 in the envelope", async () => {
    const app = await newApp();
    const answer = await call("POST", UPLOADS, {
      app,
      json: { type: "users", filename: "users.json", size: 6 * 1024 ** 3 },
    });
    expect(answer.status).toBe(413);
    expect(answer.body.status).toBe(413);
  });

  it("given a file uploaded as an image, when its import is started, then 415 and no job", async () => {
    const app = await newApp();
    const upload = await requestUpload(app);
    expect((await put(upload.upload_url, FILE, { "content-type": "image/png" })).status).toBe(200);
    const answer = await call("POST", IMPORTS, {
      app,
      json: { type: "users", upload_id: upload.upload_id },
    });
    expect(answer.status).toBe(415);
    expect(answer.body.error.detailed_messages.join(" ")).toContain("image/png");
    const list = await call("GET", IMPORTS, { app });
    expect(list.body.results.backup_histories).toHaveLength(0);
  });

  it("given a download URL, when fetched as signed, then the file; tampered, then 403", async () => {
    const app = await newApp();
    const upload = await requestUpload(app);
    await put(upload.upload_url, FILE);
    const url = await presignDownload(uploadObjectKey(app.appId, upload.upload_id), "users.json");
    const fine = await apiFetch(url);
    expect(fine.status).toBe(200);
    expect(await fine.text()).toBe(FILE);
    const tampered = new URL(url);
    tampered.searchParams.set("response-content-disposition", 'attachment; filename="x.exe"');
    const refused = await apiFetch(tampered);
    expect(refused.status).toBe(403);
    expect(s3Error(await refused.text()).code).toBe("SignatureDoesNotMatch");
  });
});
