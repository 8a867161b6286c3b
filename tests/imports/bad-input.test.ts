import { gzipSync } from "node:zlib";
import { beforeAll, describe, expect, it } from "vitest";
import { call, newApp, type TestApp } from "../support/harness.ts";
import { settleHostile } from "./hostile.ts";
import { comment, countRows, postImport, roomWithTwoUsers, user } from "./support.ts";

/** A comments file of one good row and one hostile row, as raw JSON text. */
function commentsFile(good: object, hostile: string): string {
  return `[${JSON.stringify(good)},${hostile}]`;
}

describe("hostile rows are row errors found before any write", () => {
  let app: TestApp;
  let alice: string;
  let roomId: string;
  beforeAll(async () => {
    app = await newApp();
    ({ alice, roomId } = await roomWithTwoUsers(app));
  });

  /** Imports a comments file whose row 1 is `row` (as JSON text); returns the failed job. */
  async function importHostile(row: string) {
    const file = commentsFile(comment(alice, roomId), row);
    const posted = await postImport(app, "comments", file);
    expect(posted.status).toBe(200);
    const { job } = await settleHostile(app, posted.body.results.backup_history.unique_id);
    expect(job.status).toBe("failed");
    expect(await countRows(app.appId, "comments")).toBe(0);
    return job;
  }

  /** The hostile row: a good comment with `changes` (raw JSON text of its values) put in. */
  function row(changes: Record<string, string>): string {
    const placeholders = Object.fromEntries(Object.keys(changes).map((key) => [key, `@@${key}@@`]));
    let text = JSON.stringify(comment(alice, roomId, placeholders));
    for (const [key, value] of Object.entries(changes)) text = text.replace(`"@@${key}@@"`, value);
    return text;
  }

  it("given \\u0000 in a Message, then a row error on Message, nothing written", async () => {
    const job = await importHostile(row({ Message: '"Halo\\u0000doc"' }));
    expect(job.errors.Data).toEqual([
      { row: 1, field: "Message", message: expect.stringContaining("NUL character") },
    ]);
  });

  it("given a lone surrogate inside a Payload, then a row error naming the payload field", async () => {
    const job = await importHostile(
      row({ Type: '"custom"', Payload: '{"type":"x","content":{"text":"a\\ud800b"}}' }),
    );
    expect(job.errors.Data).toEqual([
      { row: 1, field: "Payload.content.text", message: expect.stringContaining("lone UTF-16") },
    ]);
  });

  it("given \\u0000 in a payload key, then a row error on that key", async () => {
    const job = await importHostile(
      row({ Type: '"custom"', Payload: '{"type":"x","content":{"k\\u0000":1}}' }),
    );
    expect(job.errors.Data).toEqual([
      { row: 1, field: "Payload.content.k\\u0000", message: expect.stringContaining("NUL") },
    ]);
  });

  it("given a CreatedAt of year 0000, then a row error on CreatedAt", async () => {
    const job = await importHostile(row({ CreatedAt: '"0000-01-01T00:00:00Z"' }));
    expect(job.errors.Data).toEqual([
      { row: 1, field: "CreatedAt", message: expect.stringContaining("outside the times") },
    ]);
  });

  it("given 9999-12-31T23:30:00-05:00 (year 10000 in UTC), then a row error on CreatedAt", async () => {
    const job = await importHostile(row({ CreatedAt: '"9999-12-31T23:30:00-05:00"' }));
    expect(job.errors.Data).toEqual([
      { row: 1, field: "CreatedAt", message: expect.stringContaining("outside the times") },
    ]);
  });

  it("given a payload integer beyond a double's digits, then a row error, never a rounded value", async () => {
    const job = await importHostile(
      row({ Type: '"custom"', Payload: '{"type":"x","content":{"id":12345678901234567890}}' }),
    );
    expect(job.errors.Data).toEqual([
      { row: 1, field: "Payload.content.id", message: expect.stringContaining("exactly") },
    ]);
  });

  it("given a payload nested 6,000 levels deep, then a row error on Payload naming the limit", async () => {
    const deep = `${"[".repeat(6000)}${"]".repeat(6000)}`;
    const job = await importHostile(
      row({ Type: '"custom"', Payload: `{"type":"x","content":${deep}}` }),
    );
    expect(job.errors.Data).toEqual([
      {
        row: 1,
        field: "Payload",
        message: expect.stringContaining("IMPORT_MAX_PAYLOAD_DEPTH"),
      },
    ]);
  });

  it("given a row above 1 MiB of JSON, then a row error naming the row limit", async () => {
    const big = JSON.stringify({ type: "x", content: "a".repeat(1_200_000) });
    const job = await importHostile(row({ Type: '"custom"', Payload: big }));
    expect(job.errors.Data).toEqual([
      { row: 1, field: "", message: expect.stringContaining("IMPORT_MAX_ROW_BYTES") },
    ]);
  });

  it("given numbers a double keeps exactly, then they are imported as written", async () => {
    const posted = await postImport(
      app,
      "comments",
      commentsFile(
        comment(alice, roomId),
        row({ Type: '"custom"', Payload: '{"type":"x","content":{"a":1.5e3,"b":0.1,"c":-0}}' }),
      ),
    );
    const { job } = await settleHostile(app, posted.body.results.backup_history.unique_id);
    expect(job.errors).toEqual({ Message: "", Data: null });
    expect(job.status).toBe("finished");
  });

  it("given \\u0000 in a user's Name, then a row error on Name, no user written", async () => {
    const other = await newApp();
    const file = `[${JSON.stringify(user())},${JSON.stringify(user({ Name: "A\u0000B" }))}]`;
    const posted = await postImport(other, "users", file);
    const { job } = await settleHostile(other, posted.body.results.backup_history.unique_id);
    expect(job.status).toBe("failed");
    expect(job.errors.Data).toEqual([
      { row: 1, field: "Name", message: expect.stringContaining("NUL character") },
    ]);
    expect(await countRows(other.appId, "users")).toBe(0);
  });
});

describe("files beyond the limits fail with a sentence naming the limit", () => {
  it("given a small gzip file that inflates beyond 64 MiB sent in a form, then it fails naming IMPORT_MAX_FORM_INFLATED_BYTES", async () => {
    const app = await newApp();
    const bomb = gzipSync(Buffer.concat([Buffer.from("["), Buffer.alloc(70 * 1024 ** 2, 0x20)]));
    expect(bomb.length).toBeLessThan(1024 * 1024);
    const posted = await postImport(app, "users", bomb, { filename: "users.json.gz" });
    expect(posted.status).toBe(200);
    const { job } = await settleHostile(app, posted.body.results.backup_history.unique_id);
    expect(job.status).toBe("failed");
    expect(job.errors.Message).toContain("IMPORT_MAX_FORM_INFLATED_BYTES");
    expect(job.errors.Data).toBeNull();
  });
});

describe("malformed requests answer 400 in the envelope and never crash the process", () => {
  it("given a multipart body whose file part never ends, then 400, and the service still answers", async () => {
    const app = await newApp();
    const body =
      '--cut\r\nContent-Disposition: form-data; name="type"\r\n\r\nusers\r\n' +
      '--cut\r\nContent-Disposition: form-data; name="file"; filename="u.json"\r\n' +
      'Content-Type: application/json\r\n\r\n[{"Email":"a@example.com"';
    const response = await call("POST", "/api/v2.1/rest/imports", {
      app,
      body,
      headers: { "content-type": "multipart/form-data; boundary=cut" },
    });
    expect(response.status).toBe(400);
    expect(response.body.error.message).toBe("malformed multipart body");
    const after = await call("GET", "/api/v2.1/rest/imports", { app });
    expect(after.status).toBe(200);
  });

  it("given a boundary that matches nothing, broken JSON, or a JSON body in another encoding, then 400", async () => {
    const app = await newApp();
    const requests: { type: string; body: string | Uint8Array }[] = [
      { type: "multipart/form-data; boundary=nothere", body: "--other\r\n\r\nx\r\n--other--" },
      { type: "application/json", body: '{"type": "users", "upload_id": ' },
      { type: "application/json; charset=utf-16", body: '{"type":"users","upload_id":"x"}' },
      { type: "application/json", body: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]) },
    ];
    for (const { type, body } of requests) {
      const response = await call("POST", "/api/v2.1/rest/imports", {
        app,
        body,
        headers: { "content-type": type },
      });
      expect(response.status, type).toBe(400);
      expect(response.body.status).toBe(400);
      expect(typeof response.body.error.message).toBe("string");
    }
  });
});
