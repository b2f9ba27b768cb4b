/** The typed client against a real local stack: every route family, and each error mapped to its type. */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { build } from "esbuild";
import getPort from "get-port";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BatonApiError,
  BatonClient,
  BatonConflictError,
  BatonConnectionError,
  BatonForbiddenError,
  BatonNotFoundError,
  BatonQueueFullError,
  BatonRateLimitedError,
  BatonUnauthorizedError,
  BatonValidationError,
  BatonWatchTimeoutError,
  isTerminalStatus,
  RUN_STATUS_NAMES,
  TERMINAL_STATUSES,
} from "../../shared/client/index.ts";
import { isTerminal, RUN_STATUSES } from "../../shared/core/run.ts";
import { handedOutToken } from "../support/callback-token.ts";
import { startTestStack, type TestStack } from "../support/stack.ts";

let stack: TestStack;
let admin: BatonClient;
let runner: BatonClient;

beforeAll(async () => {
  stack = await startTestStack();
  admin = new BatonClient({ url: stack.url, key: stack.adminKey });
  runner = new BatonClient({ url: stack.url, key: stack.runnerKey });
});

afterAll(async () => {
  await stack?.stop();
});

async function caught(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error("expected the call to fail");
    },
    (error: unknown) => error,
  );
}

describe("errors", () => {
  it("maps 404 to BatonNotFoundError with the API's code and message", async () => {
    const error = await caught(admin.getTask("no-such-task"));
    expect(error).toBeInstanceOf(BatonNotFoundError);
    expect(error).toBeInstanceOf(BatonApiError);
    expect(error).toMatchObject({
      kind: "not_found",
      status: 404,
      error: "not_found",
      message: 'task "no-such-task" does not exist',
      method: "GET",
      path: "/v1/tasks/no-such-task",
    });
  });

  it("maps 400 to BatonValidationError with the details", async () => {
    const error = await caught(
      // @ts-expect-error an unknown field: the request type (from the schema) refuses it too
      admin.startTask({ definition: "echo", bogus: 1 }),
    );
    expect(error).toBeInstanceOf(BatonValidationError);
    expect(error).toMatchObject({ status: 400, error: "validation_failed", kind: "validation" });
    expect((error as BatonApiError).details).toEqual([expect.objectContaining({ path: "" })]);
  });

  it("maps 401 and 403", async () => {
    const stranger = new BatonClient({ url: stack.url, key: "bk_000000000000_unknown" });
    expect(await caught(stranger.listTasks())).toBeInstanceOf(BatonUnauthorizedError);
    const error = await caught(runner.putDefinition("x", { handler: "echo" }));
    expect(error).toBeInstanceOf(BatonForbiddenError);
    expect(error).toMatchObject({ status: 403, error: "forbidden" });
  });

  it("maps 409 and 429 (queue_full: nothing started)", async () => {
    await admin.putDefinition("narrow", { handler: "hang", maxConcurrency: 1, maxQueueLength: 0 });
    const first = await admin.startTask({ definition: "narrow" });
    const full = await caught(admin.startTask({ definition: "narrow" }));
    expect(full).toBeInstanceOf(BatonQueueFullError);
    expect(full).toMatchObject({ status: 429, error: "queue_full", kind: "queue_full" });

    await admin.cancelTask(first.taskId);
    const ended = await admin.waitForEnd(first.taskId, { timeoutMs: 20_000 });
    expect(ended.status).toBe("cancelled");
    const conflict = await caught(admin.cancelTask(first.taskId));
    expect(conflict).toBeInstanceOf(BatonConflictError);
    expect(conflict).toMatchObject({ status: 409, error: "conflict" });
  });

  it("maps 429 rate_limited (a tenant over its start rate) to BatonRateLimitedError, with the wait", async () => {
    await stack.request("POST", "/v1/tenants", { key: stack.rootKey, body: { id: "slow" } });
    const issued = await stack.request("POST", "/v1/tenants/slow/keys", {
      key: stack.rootKey,
      body: { role: "admin" },
    });
    const slow = new BatonClient({ url: stack.url, key: issued.body.key });
    await slow.putDefinition("echo", { handler: "echo" });
    await stack.request("PUT", "/v1/tenants/slow/limits", {
      key: stack.rootKey,
      body: { startsPerSecond: 0.001, burst: 1 },
    });
    await slow.startTask({ definition: "echo" });
    const limited = await caught(slow.startTask({ definition: "echo" }));
    expect(limited).toBeInstanceOf(BatonRateLimitedError);
    expect(limited).not.toBeInstanceOf(BatonQueueFullError);
    expect(limited).toMatchObject({ status: 429, error: "rate_limited", kind: "rate_limited" });
    expect((limited as BatonRateLimitedError).retryAfterSeconds).toBeGreaterThan(990);
  });

  it("turns a refused connection into BatonConnectionError", async () => {
    const port = await getPort();
    const error = await caught(new BatonClient({ url: `http://127.0.0.1:${port}` }).health());
    expect(error).toBeInstanceOf(BatonConnectionError);
    expect((error as Error).message).toBe(`cannot reach Baton at http://127.0.0.1:${port} (ECONNREFUSED)`);
  });

  it("turns a silent server into BatonConnectionError after the request timeout", async () => {
    const server = createServer(() => undefined);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const error = await caught(new BatonClient({ url, requestTimeoutMs: 200 }).health());
      expect(error).toBeInstanceOf(BatonConnectionError);
      expect((error as Error).message).toBe(`no answer from ${url} within 200 ms`);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it("reports an answer that is not Baton's (a proxy's HTML) as unexpected_response", async () => {
    const server = createServer((_req, res) => {
      res.writeHead(502, { "content-type": "text/html" }).end("<h1>Bad Gateway</h1>");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const error = await caught(new BatonClient({ url, key: "k" }).getTask("x"));
      expect(error).toBeInstanceOf(BatonApiError);
      expect(error).toMatchObject({ status: 502, kind: "server", error: "unexpected_response" });
      expect((error as Error).message).toContain("<h1>Bad Gateway</h1>");
    } finally {
      server.close();
    }
  });

  it("refuses a URL that is not http(s)", () => {
    expect(() => new BatonClient({ url: "localhost:3000" })).toThrow(/not an http\(s\) URL|is not a URL/);
  });
});

describe("routes", () => {
  it("tenants, keys and whoami", async () => {
    const operator = new BatonClient({ url: stack.url, key: stack.rootKey });
    expect(await operator.whoami()).toEqual({ role: "operator" });
    const tenant = await operator.createTenant({ id: "client-co", name: "Client Co" });
    expect(tenant).toMatchObject({ id: "client-co", name: "Client Co" });
    const issued = await operator.issueTenantKey("client-co", { role: "admin" });
    const clientCo = new BatonClient({ url: stack.url, key: issued.key });
    expect(await clientCo.whoami()).toEqual({ tenant: "client-co", role: "admin", keyId: issued.keyId });

    const second = await clientCo.createKey({ role: "runner" });
    expect((await clientCo.listKeys()).items.map((k) => k.keyId).sort()).toEqual(
      [issued.keyId, second.keyId].sort(),
    );
    await clientCo.revokeKey(second.keyId);
    expect(await caught(new BatonClient({ url: stack.url, key: second.key }).whoami())).toBeInstanceOf(
      BatonUnauthorizedError,
    );
  });

  it("definitions, chains and grants", async () => {
    const put = await admin.putDefinition("client-echo", { handler: "echo", params: { a: 1 } });
    expect(put).toMatchObject({ created: true, definition: { name: "client-echo", params: { a: 1 } } });
    expect((await admin.putDefinition("client-echo", { handler: "echo" })).created).toBe(false);
    expect((await admin.getDefinition("client-echo")).handler).toBe("echo");
    const page = await admin.listDefinitions({ limit: 100 });
    expect(page.items.map((d) => d.name)).toContain("client-echo");

    expect(await admin.putChain("client-next", { definition: "client-echo" })).toMatchObject({
      created: true,
      chain: { name: "client-next", definition: "client-echo" },
    });
    expect((await admin.getChain("client-next")).definition).toBe("client-echo");
    expect((await admin.listChains()).items.map((c) => c.name)).toContain("client-next");
    await new BatonClient({ url: stack.url, key: stack.rootKey }).createTenant({ id: "other" });
    expect(await admin.grantAccess("other", "client-next")).toMatchObject({
      created: true,
      grant: { sourceTenant: "other", chain: "client-next" },
    });
    expect((await admin.listGrants()).items).toEqual([
      { sourceTenant: "other", chain: "client-next", createdAt: expect.any(String) },
    ]);
    await admin.revokeAccess("other", "client-next");
    await admin.deleteChain("client-next");
    expect(await caught(admin.getChain("client-next"))).toBeInstanceOf(BatonNotFoundError);
    await admin.deleteDefinition("client-echo");
    expect(await caught(admin.getDefinition("client-echo"))).toBeInstanceOf(BatonNotFoundError);
  });

  it("tasks: start, idempotent replay, watch, list, subtext", async () => {
    await admin.putDefinition("sleep", { handler: "sleep" });
    const started = await runner.startTask({
      definition: "sleep",
      params: { ms: 600, steps: 3 },
      idempotencyKey: "client-sleep",
    });
    expect(started).toEqual({ taskId: expect.any(String), status: "queued" });
    const replay = await runner.startTask({
      definition: "sleep",
      params: { ms: 600, steps: 3 },
      idempotencyKey: "client-sleep",
    });
    expect(replay).toEqual({ taskId: started.taskId, status: expect.any(String), idempotentReplay: true });

    const seen: Array<number | null> = [];
    const final = await runner.waitForEnd(started.taskId, {
      minIntervalMs: 50,
      onUpdate: (task) => seen.push(task.progress),
    });
    expect(final).toMatchObject({ status: "succeeded", progress: 1, output: { slept: 600 } });
    expect(seen.at(-1)).toBe(1);
    expect(seen.length).toBeGreaterThan(1); // it saw the run move, not just its end

    const withSubtext = await runner.setSubtext(started.taskId, "checked by the client test");
    expect(withSubtext.subtext).toBe("checked by the client test");
    const listed = await runner.listTasks({ definition: "sleep", status: "succeeded", limit: 10 });
    expect(listed.items.map((t) => t.taskId)).toContain(started.taskId);
  });

  it("watch gives up with BatonWatchTimeoutError carrying the last view", async () => {
    await admin.putDefinition("echo", { handler: "echo" });
    const { taskId } = await admin.startTask({ definition: "echo", after: 3_600_000 });
    const error = await caught(admin.waitForEnd(taskId, { timeoutMs: 300, minIntervalMs: 50 }));
    expect(error).toBeInstanceOf(BatonWatchTimeoutError);
    expect((error as BatonWatchTimeoutError).last?.status).toBe("scheduled");
    await admin.cancelTask(taskId);
  });

  it("callbacks with the key and with the run's token; file links", async () => {
    await admin.putDefinition("await-callback", { handler: "await-callback", mode: "callback" });
    const { taskId } = await admin.startTask({ definition: "await-callback" });
    let token: string | undefined;
    for await (const task of admin.watch(taskId, { minIntervalMs: 50 })) {
      token = task.status === "awaiting" ? await handedOutToken(taskId) : undefined;
      if (task.status === "awaiting" && token !== undefined) break;
    }
    expect(token).toBeDefined();
    expect((await runner.callback({ taskId, logs: "step" })).status).toBe("awaiting");
    const tokenOnly = new BatonClient({ url: stack.url });
    const done = await tokenOnly.callback({ taskId, status: "SUCCESS" }, { token: token as string });
    expect(done.status).toBe("succeeded");

    await admin.putDefinition("write-file", { handler: "write-file" });
    const file = await admin.startTask({ definition: "write-file", params: { name: "a.txt", text: "hi" } });
    await admin.waitForEnd(file.taskId, { minIntervalMs: 50 });
    const link = await admin.taskFileUrl(file.taskId, "a.txt");
    expect(await (await fetch(link)).text()).toBe("hi");
    const badToken = await caught(tokenOnly.fileTokenUrl(`${"a".repeat(10)}.${"b".repeat(43)}`));
    expect(badToken).toBeInstanceOf(BatonUnauthorizedError);
  });
});

describe("status lists", () => {
  it("match the server's statuses and terminal statuses", () => {
    expect([...RUN_STATUS_NAMES].sort()).toEqual([...RUN_STATUSES].sort());
    expect([...TERMINAL_STATUSES].sort()).toEqual(RUN_STATUSES.filter(isTerminal).sort());
    for (const status of RUN_STATUSES) expect(isTerminalStatus(status)).toBe(isTerminal(status));
  });
});

describe("packaging", () => {
  it("bundles to code with no imports at all: nothing of the server, not even zod", async () => {
    const result = await build({
      entryPoints: ["shared/client/index.ts"],
      bundle: true,
      platform: "neutral",
      format: "esm",
      write: false,
      logLevel: "silent",
    });
    const code = result.outputFiles[0]?.text ?? "";
    expect(code).toContain("var BatonClient = class");
    expect(code).not.toMatch(/^import /m);
    expect(code).not.toContain("zod");
  });
});
