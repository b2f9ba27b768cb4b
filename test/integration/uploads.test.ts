/**
 * Upload destinations and `ctx.files.upload`, against a real FTP server and a real SFTP server
 * that this file starts on loopback: files arrive, `FTP-URL` names them, failures end runs with
 * clear codes, and no password or key leaves the API, the tables or the logs in clear.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import getPort from "get-port";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { uploadFile } from "../../shared/app/uploads.ts";
import type { Log } from "../../shared/core/ports.ts";
import { SEALED_PREFIX } from "../../shared/core/sealed.ts";
import { makeFolders, startFtpServer, type TestFtpServer } from "../support/ftp-server.ts";
import { newSshKeyPair, startSftpServer, type TestSftpServer } from "../support/sftp-server.ts";
import {
  startTask,
  startTestStack,
  type TestResponse,
  type TestStack,
  waitForEnd,
} from "../support/stack.ts";
import { readAllTables } from "../support/tables.ts";

const FTP_PASSWORD = `ftp-pw-${randomBytes(9).toString("hex")}`;
const SFTP_PASSWORD = `sftp-pw-${randomBytes(9).toString("hex")}`;
const WRONG_PASSWORD = `wrong-pw-${randomBytes(9).toString("hex")}`;
const userKey = newSshKeyPair();
/** A line from the middle of the private key: the key's own material, not its BEGIN/END lines. */
const KEY_MATERIAL = userKey.privateKey.split("\n")[2] ?? "";

/** Every log line the stack writes, as text (message and fields, errors with their messages). */
const logLines: string[] = [];
const capture =
  (level: string) =>
  (message: string, ...extra: Record<string, unknown>[]) =>
    logLines.push(
      `${level} ${message} ${inspect(extra, { depth: 10, breakLength: Number.POSITIVE_INFINITY })}`,
    );
const capturingLog: Log = {
  debug: capture("debug"),
  info: capture("info"),
  warn: capture("warn"),
  error: capture("error"),
};

let stack: TestStack;
let ftpRoot: string;
let sftpRoot: string;
let ftpServer: TestFtpServer;
let sftpServer: TestSftpServer;
let globexKey: string;
/** Every API answer of this file, as text. */
const answers: string[] = [];

async function call(method: string, path: string, options: Parameters<TestStack["request"]>[2] = {}) {
  const response: TestResponse = await stack.request(method, path, options);
  answers.push(JSON.stringify(response.body));
  return response;
}

async function upload(params: Record<string, unknown>, definition = "upload") {
  const taskId = await startTask(stack, { definition, params });
  const task = await waitForEnd(stack, taskId);
  answers.push(JSON.stringify(task));
  return task;
}

beforeAll(async () => {
  ftpRoot = mkdtempSync(join(tmpdir(), "baton-ftp-"));
  sftpRoot = mkdtempSync(join(tmpdir(), "baton-sftp-"));
  makeFolders(ftpRoot, "inbox", "locked");
  makeFolders(sftpRoot, "inbox", "locked", "home/baton");
  ftpServer = await startFtpServer({
    root: ftpRoot,
    users: { clienttrack: FTP_PASSWORD },
    readOnly: ["locked"],
  });
  sftpServer = await startSftpServer({
    root: sftpRoot,
    passwords: { baton: SFTP_PASSWORD },
    publicKeys: { keyed: userKey.publicKey },
    readOnly: ["locked"],
  });
  stack = await startTestStack({ log: capturingLog, uploadConnectTimeoutMs: 3_000 });
  await stack.request("POST", "/v1/tenants", { key: stack.rootKey, body: { id: "globex" } });
  globexKey = (
    await stack.request("POST", "/v1/tenants/globex/keys", { key: stack.rootKey, body: { role: "admin" } })
  ).body.key;
  await stack.request("PUT", "/v1/definitions/upload", { body: { handler: "upload-file", maxAttempts: 1 } });
  await stack.request("PUT", "/v1/definitions/upload-retried", {
    body: { handler: "upload-file", maxAttempts: 2 },
  });
});

afterAll(async () => {
  await stack?.stop();
  await ftpServer?.close();
  await sftpServer?.close();
  for (const root of [ftpRoot, sftpRoot])
    if (root !== undefined) rmSync(root, { recursive: true, force: true });
});

describe("registering destinations", () => {
  it("creates, replaces, reads and lists them, showing which credentials are set but never one", async () => {
    const ftp = {
      url: `ftp://127.0.0.1:${ftpServer.port}/inbox`,
      username: "clienttrack",
      password: FTP_PASSWORD,
    };
    expect((await call("PUT", "/v1/destinations/clienttrack", { body: ftp })).status).toBe(201);
    const replaced = await call("PUT", "/v1/destinations/clienttrack", { body: ftp });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toEqual({
      name: "clienttrack",
      url: `ftp://127.0.0.1:${ftpServer.port}/inbox`,
      username: "clienttrack",
      credentials: ["password"],
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    const sftp = {
      url: `SFTP://LocalHost:${sftpServer.port}/inbox/`,
      username: "keyed",
      privateKey: userKey.privateKey,
      hostKey: sftpServer.hostKeyFingerprint,
    };
    expect((await call("PUT", "/v1/destinations/archive", { body: sftp })).status).toBe(201);
    const read = await call("GET", "/v1/destinations/archive");
    expect(read.body).toMatchObject({
      url: `sftp://localhost:${sftpServer.port}/inbox`,
      credentials: ["privateKey"],
      hostKey: sftpServer.hostKeyFingerprint,
    });
    const list = await call("GET", "/v1/destinations");
    expect(list.body.items.map((item: { name: string }) => item.name)).toEqual(["archive", "clienttrack"]);
  });

  it("keeps them to admins of the tenant", async () => {
    expect((await call("GET", "/v1/destinations", { key: stack.runnerKey })).status).toBe(403);
    const put = { url: "ftp://ftp.example.com", username: "x", password: "y" };
    expect((await call("PUT", "/v1/destinations/x", { key: stack.runnerKey, body: put })).status).toBe(403);
    expect((await call("GET", "/v1/destinations/clienttrack", { key: globexKey })).status).toBe(404);
    expect((await call("DELETE", "/v1/destinations/clienttrack", { key: globexKey })).status).toBe(404);
    expect((await call("GET", "/v1/destinations", { key: globexKey })).body.items).toEqual([]);
  });

  it.each([
    [
      "credentials in the URL",
      { url: `ftp://clienttrack:${WRONG_PASSWORD}@ftp.example.com/in`, username: "u" },
    ],
    ["another scheme", { url: "http://ftp.example.com/in", username: "u", password: "p" }],
    ["no host", { url: "sftp:///in", username: "u", password: "p" }],
    ["a bad host", { url: "ftp://ftp_example!.com/in", username: "u", password: "p" }],
    ["a port out of range", { url: "ftp://ftp.example.com:70000/in", username: "u", password: "p" }],
    ["a climbing folder", { url: "ftp://ftp.example.com/in/../etc", username: "u", password: "p" }],
    ["an encoded folder", { url: "ftp://ftp.example.com/in%2F..", username: "u", password: "p" }],
    ["a query", { url: "ftp://ftp.example.com/in?type=a", username: "u", password: "p" }],
    [
      "a line break in the password",
      { url: "ftp://ftp.example.com", username: "u", password: "p\r\nDELE x" },
    ],
    ["a line break in the username", { url: "ftp://ftp.example.com", username: "u\nx", password: "p" }],
    [
      "a private key for FTP",
      { url: "ftp://ftp.example.com", username: "u", privateKey: userKey.privateKey },
    ],
    [
      "a host key for FTP",
      {
        url: "ftp://ftp.example.com",
        username: "u",
        hostKey: "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU",
      },
    ],
    ["SFTP without a credential", { url: "sftp://sftp.example.com", username: "u" }],
    [
      "a key that is not one",
      {
        url: "sftp://sftp.example.com",
        username: "u",
        privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nbm90IGEga2V5\n-----END OPENSSH PRIVATE KEY-----\n",
      },
    ],
    ["an unknown field", { url: "ftp://ftp.example.com", username: "u", password: "p", passive: true }],
  ])("answers 400 to %s, storing nothing", async (_why, body) => {
    const response = await call("PUT", "/v1/destinations/rejected", { body });
    expect(response.status).toBe(400);
    expect(response.body.error).toBe("validation_failed");
    expect(JSON.stringify(response.body)).not.toContain(WRONG_PASSWORD);
    expect((await call("GET", "/v1/destinations/rejected")).status).toBe(404);
  });

  it("deletes them; an upload to a deleted destination fails with destination_not_found", async () => {
    const body = { url: "ftp://ftp.example.com/in", username: "u", password: "p" };
    expect((await call("PUT", "/v1/destinations/short-lived", { body })).status).toBe(201);
    expect((await call("DELETE", "/v1/destinations/short-lived")).status).toBe(204);
    expect((await call("DELETE", "/v1/destinations/short-lived")).status).toBe(404);
    const task = await upload({ destination: "short-lived" });
    expect(task.status).toBe("failed");
    expect(task.attempts).toBe(1);
    expect(task.error.code).toBe("destination_not_found");
  });
});

describe("uploading", () => {
  it("over FTP: the file arrives and FTP-URL names it, without credentials", async () => {
    const task = await upload({ destination: "clienttrack", name: "report.txt", text: "Q3 numbers\n" });
    expect(task.status).toBe("succeeded");
    expect(task.output).toEqual({
      uploaded: "report.txt",
      to: "clienttrack",
      "FTP-URL": `ftp://127.0.0.1:${ftpServer.port}/inbox/report.txt`,
    });
    expect(readFileSync(join(ftpRoot, "inbox", "report.txt"), "utf8")).toBe("Q3 numbers\n");
  });

  it("over FTP, a streamed body of 2 MiB arrives whole", async () => {
    const task = await upload({ destination: "clienttrack", name: "big.bin", kib: 2048 });
    expect(task.status).toBe("succeeded");
    const file = readFileSync(join(ftpRoot, "inbox", "big.bin"));
    expect(file.length).toBe(2048 * 1024);
    expect(file.subarray(0, 7).toString()).toBe("upload ");
  });

  it("over SFTP with a password, into the login folder (~)", async () => {
    await call("PUT", "/v1/destinations/sftp-home", {
      body: { url: `sftp://127.0.0.1:${sftpServer.port}/~`, username: "baton", password: SFTP_PASSWORD },
    });
    const task = await upload({ destination: "sftp-home", name: "hello.txt", text: "hi\n" });
    expect(task.status).toBe("succeeded");
    expect(task.output["FTP-URL"]).toBe(`sftp://127.0.0.1:${sftpServer.port}/~/hello.txt`);
    // The test server's login folder is its root.
    expect(readFileSync(join(sftpRoot, "hello.txt"), "utf8")).toBe("hi\n");
  });

  it("over SFTP with a private key and the pinned host key, streaming 512 KiB", async () => {
    const task = await upload({ destination: "archive", name: "images.zip", kib: 512 });
    expect(task.status).toBe("succeeded");
    expect(task.output["FTP-URL"]).toBe(`sftp://localhost:${sftpServer.port}/inbox/images.zip`);
    expect(readFileSync(join(sftpRoot, "inbox", "images.zip")).length).toBe(512 * 1024);
  });
});

describe("failures end the attempt with a clear code", () => {
  it.each([
    ["FTP", () => `ftp://127.0.0.1:${ftpServer.port}/inbox`, "clienttrack"],
    ["SFTP", () => `sftp://127.0.0.1:${sftpServer.port}/inbox`, "baton"],
  ])("a wrong password over %s: destination_auth_failed, not retried", async (_protocol, url, username) => {
    const name = `wrong-${username}`;
    await call("PUT", `/v1/destinations/${name}`, {
      body: { url: url(), username, password: WRONG_PASSWORD },
    });
    const task = await upload({ destination: name }, "upload-retried");
    expect(task.status).toBe("failed");
    expect(task.attempts).toBe(1);
    expect(task.error.code).toBe("destination_auth_failed");
    expect(task.error.message).not.toContain(WRONG_PASSWORD);
  });

  it.each([
    [
      "FTP, a folder it may not write",
      () => `ftp://127.0.0.1:${ftpServer.port}/locked`,
      "clienttrack",
      FTP_PASSWORD,
    ],
    [
      "FTP, a folder that is not there",
      () => `ftp://127.0.0.1:${ftpServer.port}/missing`,
      "clienttrack",
      FTP_PASSWORD,
    ],
    [
      "SFTP, a folder it may not write",
      () => `sftp://127.0.0.1:${sftpServer.port}/locked`,
      "baton",
      SFTP_PASSWORD,
    ],
    [
      "SFTP, a folder that is not there",
      () => `sftp://127.0.0.1:${sftpServer.port}/missing`,
      "baton",
      SFTP_PASSWORD,
    ],
  ])("%s: destination_refused, not retried", async (why, url, username, password) => {
    const name = `refused-${why.replace(/[^a-z]+/gi, "-").replace(/-$/, "")}`;
    expect(
      (await call("PUT", `/v1/destinations/${name}`, { body: { url: url(), username, password } })).status,
    ).toBe(201);
    const task = await upload({ destination: name }, "upload-retried");
    expect(task.status).toBe("failed");
    expect(task.attempts).toBe(1);
    expect(task.error.code).toBe("destination_refused");
  });

  it("an SFTP server whose host key is not the pinned one: destination_untrusted", async () => {
    const other = newSshKeyPair(); // any other key's fingerprint
    const { createHash } = await import("node:crypto");
    const ssh2 = (await import("ssh2")).default;
    const parsed = ssh2.utils.parseKey(other.publicKey);
    if (parsed instanceof Error) throw parsed;
    const wrong = `SHA256:${createHash("sha256").update(parsed.getPublicSSH()).digest("base64").replace(/=+$/, "")}`;
    await call("PUT", "/v1/destinations/impostor", {
      body: {
        url: `sftp://127.0.0.1:${sftpServer.port}/inbox`,
        username: "baton",
        password: SFTP_PASSWORD,
        hostKey: wrong,
      },
    });
    const task = await upload({ destination: "impostor" }, "upload-retried");
    expect(task.status).toBe("failed");
    expect(task.attempts).toBe(1);
    expect(task.error.code).toBe("destination_untrusted");
  });

  it.each(["ftp", "sftp"])(
    "a port where nothing listens (%s): destination_unreachable, retried",
    async (protocol) => {
      const port = await getPort({ host: "127.0.0.1" });
      const name = `nowhere-${protocol}`;
      await call("PUT", `/v1/destinations/${name}`, {
        body: { url: `${protocol}://127.0.0.1:${port}/inbox`, username: "u", password: "p" },
      });
      const task = await upload({ destination: name }, "upload-retried");
      expect(task.status).toBe("failed");
      expect(task.attempts).toBe(2);
      expect(task.error.code).toBe("destination_unreachable");
      expect(task.error.message).toContain(`127.0.0.1:${port}`);
    },
  );

  it("where the deployment allows public addresses only, a loopback destination is refused before connecting", async () => {
    const before = ftpServer.connections();
    const publicOnly = {
      ...stack.services,
      uploads: { allowPrivateAddresses: false, connectTimeoutMs: 1_000 },
    };
    const attempt = uploadFile(publicOnly, "acme", {
      name: "x.txt",
      body: "x",
      destination: "clienttrack",
      signal: new AbortController().signal,
    });
    await expect(attempt).rejects.toMatchObject({
      name: "NonRetriableError",
      code: "destination_forbidden_address",
    });
    expect(ftpServer.connections()).toBe(before);
  });
});

describe("secrets", () => {
  it("the passwords and the key are in no stored item, API answer or log line", async () => {
    const tables = await readAllTables(stack.endpoints.dynamodb, stack.prefix);
    const stored = tables.destinations ?? [];
    // The scan sees the sealed credentials, so it would see clear ones.
    expect(stored.find((item) => item.name === "clienttrack")?.password).toMatch(
      new RegExp(`^${SEALED_PREFIX}`),
    );
    expect(stored.find((item) => item.name === "archive")?.privateKey).toMatch(
      new RegExp(`^${SEALED_PREFIX}`),
    );
    const everything = [JSON.stringify(tables), ...answers, ...logLines];
    // The logs did record the failed attempts (so they are where a leak would show).
    expect(
      logLines.some((line) => line.includes("destination_unreachable") || line.includes("handler failed")),
    ).toBe(true);
    for (const secret of [FTP_PASSWORD, SFTP_PASSWORD, WRONG_PASSWORD, KEY_MATERIAL]) {
      expect(secret.length).toBeGreaterThan(16);
      for (const text of everything) expect(text).not.toContain(secret);
    }
  });
});
