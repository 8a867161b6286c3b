import bcrypt from "bcryptjs";
import { describe, expect, it } from "vitest";
import { chatDb } from "../../lib/chat-db/pool.ts";
import { newApp } from "../support/harness.ts";
import { countRows, email, importOk, importRows, problemsOf, user } from "./support.ts";

async function storedUsers(appId: string) {
  const { rows } = await chatDb().query(
    "SELECT email, name, avatar_url, authentication_token, password_hash, created_at FROM users WHERE app_id = $1 ORDER BY id",
    [appId],
  );
  return rows;
}

describe("users import", () => {
  it("given valid users, when imported, then stored with a bcrypt hash and never the plain password", async () => {
    const app = await newApp();
    const address = `Mixed.Case.${Date.now()}@Example.com`;
    const job = await importOk(app, "users", [
      user({ Email: address, Password: "s3cret-pass", CreateAt: "2017-05-10T18:46:30+07:00" }),
    ]);
    expect(job.total_rows).toBe(1);
    const [stored] = await storedUsers(app.appId);
    expect(stored.email).toBe(address);
    expect(stored.created_at).toMatch(/^2017-05-10 11:46:30/);
    expect(stored.password_hash).not.toContain("s3cret-pass");
    expect(bcrypt.compareSync("s3cret-pass", stored.password_hash)).toBe(true);
  });

  it("given a PasswordHash, when imported, then it is stored as it is", async () => {
    const app = await newApp();
    const hash = bcrypt.hashSync("from-elsewhere", 4);
    await importOk(app, "users", [user({ Password: undefined, PasswordHash: hash })]);
    expect((await storedUsers(app.appId))[0].password_hash).toBe(hash);
  });

  it("given a PasswordHash that is not bcrypt, when imported, then row 1 fails on PasswordHash", async () => {
    const app = await newApp();
    const job = await importRows(app, "users", [
      user(),
      user({ Password: undefined, PasswordHash: "plain" }),
    ]);
    expect(job.status).toBe("failed");
    expect(problemsOf(job)).toEqual(["1:PasswordHash"]);
  });

  it("given neither Password nor PasswordHash, when imported, then that row fails on Password", async () => {
    const app = await newApp();
    const job = await importRows(app, "users", [user({ Password: undefined })]);
    expect(problemsOf(job)).toEqual(["0:Password"]);
  });

  it("given the same email twice in other case, when imported, then the second row fails on Email", async () => {
    const app = await newApp();
    const address = email();
    const job = await importRows(app, "users", [
      user({ Email: address }),
      user(),
      user({ Email: address.toUpperCase() }),
    ]);
    expect(job.status).toBe("failed");
    expect(problemsOf(job)).toEqual(["2:Email"]);
    expect(job.errors.Data[0].message).toContain("row 0");
    expect(await countRows(app.appId, "users")).toBe(0);
  });

  it("given an email already in the app (other case), when imported, then that row fails on Email", async () => {
    const app = await newApp();
    const address = email();
    await importOk(app, "users", [user({ Email: address })]);
    const job = await importRows(app, "users", [user(), user({ Email: address.toUpperCase() })]);
    expect(problemsOf(job)).toEqual(["1:Email"]);
    expect(await countRows(app.appId, "users")).toBe(1);
  });

  it("given a duplicate AuthenticationToken in the file, when imported, then the later row fails", async () => {
    const app = await newApp();
    const job = await importRows(app, "users", [
      user({ AuthenticationToken: "same" }),
      user({ AuthenticationToken: "same" }),
    ]);
    expect(problemsOf(job)).toEqual(["1:AuthenticationToken"]);
  });

  it("given an AuthenticationToken already in the app, when imported, then that row fails", async () => {
    const app = await newApp();
    await importOk(app, "users", [user({ AuthenticationToken: "taken" })]);
    const job = await importRows(app, "users", [user({ AuthenticationToken: "taken" })]);
    expect(problemsOf(job)).toEqual(["0:AuthenticationToken"]);
  });

  it("given the same email in another app, when imported, then it is accepted (uniqueness is per app)", async () => {
    const [first, second] = [await newApp(), await newApp()];
    const address = email();
    await importOk(first, "users", [user({ Email: address, AuthenticationToken: "t" })]);
    await importOk(second, "users", [user({ Email: address, AuthenticationToken: "t" })]);
  });

  it("given bad values, when imported, then every offending row and field is listed", async () => {
    const app = await newApp();
    const job = await importRows(app, "users", [
      user({ Email: "not-an-address" }),
      user({ AvatarUrl: "ftp://x/y.png" }),
      user({ CreateAt: "10/05/2017" }),
      user({ Name: undefined }),
      "a string",
    ]);
    expect(job.status).toBe("failed");
    expect(problemsOf(job)).toEqual(["0:Email", "1:AvatarUrl", "2:CreateAt", "3:Name", "4:"]);
    expect(job.errors.Message).toBe(
      "5 of 5 users rows break the import rules, so nothing was imported.",
    );
  });

  it("given a password in the file, when the import fails, then the password appears nowhere in the job", async () => {
    const app = await newApp();
    const job = await importRows(app, "users", [
      user({ Password: "do-not-echo-me", Email: "bad" }),
      user({ Password: "x".repeat(73) }),
    ]);
    expect(problemsOf(job)).toEqual(["0:Email", "1:Password"]);
    expect(JSON.stringify(job)).not.toContain("do-not-echo-me");
    expect(JSON.stringify(job)).not.toContain("xxxxxxxx");
  });

  it("given unknown keys, when imported, then they are dropped", async () => {
    const app = await newApp();
    await importOk(app, "users", [user({ Role: "admin", Extras: { a: 1 } })]);
    expect(await countRows(app.appId, "users")).toBe(1);
  });

  it("given no CreateAt, when imported, then the import time is used", async () => {
    const app = await newApp();
    const before = Date.now();
    await importOk(app, "users", [user({ CreateAt: undefined })]);
    const { rows } = await chatDb().query(
      "SELECT extract(epoch FROM created_at) * 1000 AS ms FROM users WHERE app_id = $1",
      [app.appId],
    );
    expect(Number(rows[0].ms)).toBeGreaterThanOrEqual(before - 1000);
  });

  it("given more than 1000 bad rows, when imported, then 1000 are listed and the sentence counts the rest", async () => {
    const app = await newApp();
    const rows = Array.from({ length: 1200 }, () => user({ Email: "nope" }));
    const job = await importRows(app, "users", rows);
    expect(job.errors.Data).toHaveLength(1000);
    expect(job.errors.Message).toBe(
      "1200 of 1200 users rows break the import rules, so nothing was imported; the first 1000 problems are listed, 200 more are not.",
    );
  });

  it("given a dry run, when imported, then it reports the rows it would write and writes none", async () => {
    const app = await newApp();
    const job = await importRows(app, "users", [user(), user()], { dryRun: true });
    expect(job).toMatchObject({ status: "finished", total_rows: 2, dry_run: true });
    expect(await countRows(app.appId, "users")).toBe(0);
  });
});
