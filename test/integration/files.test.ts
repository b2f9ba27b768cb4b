/** File outputs in S3 (fauxqs), downloads by the owning tenant, and file tokens handed on by chains. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mintFileToken } from "../../shared/core/file-token.ts";
import { startTestStack, type TestStack, waitFor, waitForEnd } from "../support/stack.ts";

let stack: TestStack;
let globexKey: string;

beforeAll(async () => {
  stack = await startTestStack({
    leaseSeconds: 3,
    fileTokenSecret: "a-test-secret-that-is-long-enough-0123456789",
  });
  await stack.request("POST", "/v1/tenants", { key: stack.rootKey, body: { id: "globex" } });
  globexKey = (
    await stack.request("POST", "/v1/tenants/globex/keys", { key: stack.rootKey, body: { role: "admin" } })
  ).body.key;
  await stack.request("PUT", "/v1/definitions/write-file", { body: { handler: "write-file" } });
  await stack.request("PUT", "/v1/definitions/write-stream", { body: { handler: "write-stream" } });
  await stack.request("PUT", "/v1/definitions/echo", { key: globexKey, body: { handler: "echo" } });
  await stack.request("PUT", "/v1/chains/receive", { key: globexKey, body: { definition: "echo" } });
  await stack.request("PUT", "/v1/access/acme/receive", { key: globexKey });
});
afterAll(async () => {
  await stack?.stop();
});

/** GET without following the redirect; returns the status and where it points. */
async function peek(path: string, key: string | null = stack.adminKey) {
  const response = await stack.request("GET", path, { key, redirect: "manual" });
  return { status: response.status, location: response.headers.get("location") };
}

async function run(definition: string, body: Record<string, unknown> = {}) {
  const started = await stack.request("POST", "/v1/tasks", { body: { definition, ...body } });
  return waitForEnd(stack, started.body.taskId);
}

describe("file outputs", () => {
  it("store a file under the tenant and task, set the standard outputs, and serve it to the owner", async () => {
    const task = await run("write-file", { params: { name: "report.txt", text: "one\ntwo\n" } });
    expect(task.output).toEqual({
      lines: 2,
      FileName: "report.txt",
      FileKey: `acme/${task.taskId}/report.txt`,
      FileSize: 8,
    });
    const link = await peek(`/v1/tasks/${task.taskId}/files/report.txt`);
    expect(link.status).toBe(302);
    expect(await (await fetch(link.location ?? "")).text()).toBe("one\ntwo\n");
  });

  it("stream a large body (multipart) without holding it in a queue message or an item", async () => {
    const task = await run("write-stream", { params: { mib: 6 } });
    expect(task.status).toBe("succeeded");
    expect(task.output).toMatchObject({ wrote: 6 * 1024 * 1024, FileSize: 6 * 1024 * 1024 });
    const link = await peek(`/v1/tasks/${task.taskId}/files/big.bin`);
    const body = Buffer.from(await (await fetch(link.location ?? "")).arrayBuffer());
    expect(body.length).toBe(6 * 1024 * 1024);
  });

  it("answer 404 for another tenant's file or a missing one, and 400 for a bad name", async () => {
    const task = await run("write-file");
    expect((await peek(`/v1/tasks/${task.taskId}/files/hello.txt`, globexKey)).status).toBe(404);
    expect((await peek(`/v1/tasks/${task.taskId}/files/missing.txt`)).status).toBe(404);
    expect((await peek(`/v1/tasks/${task.taskId}/files/..%2Fsecret`)).status).toBe(400);
  });
});

describe("file tokens", () => {
  it("let a chained task in another tenant read exactly that file, with no key", async () => {
    const source = await run("write-file", {
      params: { name: "handover.txt", text: "for production\n" },
      chain: { customerId: "globex", name: "receive", params: [{ name: "download", value: "@FileToken@" }] },
    });
    const outcome = await waitFor(async () => {
      const current = (await stack.request("GET", `/v1/tasks/${source.taskId}`)).body;
      return current.chainOutcomes[0];
    });
    expect(outcome).toMatchObject({ status: "started", customerId: "globex" });
    const child = await waitFor(async () => {
      const current = (await stack.request("GET", `/v1/tasks/${outcome.childTaskId}`, { key: globexKey }))
        .body;
      return current.status === "succeeded" ? current : undefined;
    });
    const token: string = child.output.download;
    const link = await peek(`/v1/files/${token}`, null);
    expect(link.status).toBe(302);
    expect(await (await fetch(link.location ?? "")).text()).toBe("for production\n");

    // Tampered, expired, or for a file that is not there: refused.
    const [payload, signature] = token.split(".");
    const other = Buffer.from(
      JSON.stringify({ t: "acme", k: `acme/${source.taskId}/other.txt`, e: 9_999_999_999 }),
    ).toString("base64url");
    expect((await peek(`/v1/files/${other}.${signature}`, null)).status).toBe(401);
    const expired = mintFileToken(
      "a-test-secret-that-is-long-enough-0123456789",
      { tenant: "acme", key: `acme/${source.taskId}/handover.txt` },
      new Date(Date.now() - 2 * 3_600_000),
    );
    expect((await peek(`/v1/files/${expired}`, null)).status).toBe(401);
    const absent = mintFileToken(
      "a-test-secret-that-is-long-enough-0123456789",
      { tenant: "acme", key: `acme/${source.taskId}/none.txt` },
      new Date(),
    );
    expect((await peek(`/v1/files/${absent}`, null)).status).toBe(404);
    // A token of a run that does not exist (or no longer does) opens nothing.
    const runGone = mintFileToken(
      "a-test-secret-that-is-long-enough-0123456789",
      { tenant: "acme", key: "acme/x/none.txt" },
      new Date(),
    );
    expect((await peek(`/v1/files/${runGone}`, null)).status).toBe(401);
    expect((await peek(`/v1/files/${payload}`, null)).status).toBe(400);
  });

  it("fail the chain, not the run, when the run wrote no file", async () => {
    const started = await stack.request("POST", "/v1/tasks", {
      key: globexKey,
      body: { definition: "echo", chain: { name: "receive", params: [{ name: "d", value: "@FileToken@" }] } },
    });
    const source = await waitFor(async () => {
      const current = (await stack.request("GET", `/v1/tasks/${started.body.taskId}`, { key: globexKey }))
        .body;
      return current.chainOutcomes.length > 0 ? current : undefined;
    });
    expect(source.status).toBe("succeeded");
    expect(source.chainOutcomes[0]).toMatchObject({ status: "failed", error: { code: "chain_param_error" } });
  });
});
