/**
 * Tenant start rates through the real handlers on the emulators: the api handler (with a clock
 * that stands still, so the bucket's arithmetic is exact), the worker's ctx.tasks.start, and cron
 * firings. Slow rates (one start per 1,000 s) keep the other cases independent of real time.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiHandler } from "../../functions/api/handler.ts";
import { apiGatewayEvent, lambdaContext } from "../../local/http-server.ts";
import { startScheduled } from "../../shared/app/schedules.ts";
import type { Services } from "../../shared/app/services.ts";
import { startTestStack, type TestStack, waitFor } from "../support/stack.ts";

let stack: TestStack;
const keys: Record<string, string> = {};

/** A tenant with an admin key and an `echo` definition. */
async function tenant(id: string): Promise<string> {
  await stack.request("POST", "/v1/tenants", { key: stack.rootKey, body: { id } });
  const issued = await stack.request("POST", `/v1/tenants/${id}/keys`, {
    key: stack.rootKey,
    body: { role: "admin" },
  });
  const key = issued.body.key as string;
  await stack.request("PUT", "/v1/definitions/echo", { key, body: { handler: "echo" } });
  keys[id] = key;
  return key;
}

const setLimits = (id: string, limits: Record<string, unknown>) =>
  stack.request("PUT", `/v1/tenants/${id}/limits`, { key: stack.rootKey, body: limits });

beforeAll(async () => {
  // No timer loop: the tests fire schedules themselves, and a real minute boundary firing a
  // "* * * * *" schedule mid-test would take the slot or the rate token they count on.
  stack = await startTestStack({ leaseSeconds: 3, timerIntervalMs: 0 });
  await stack.request("PUT", "/v1/definitions/echo", { body: { handler: "echo" } });
  for (const id of ["beta", "gamma", "delta", "epsilon"]) await tenant(id);
});
afterAll(async () => {
  await stack?.stop();
});

describe("the API", () => {
  /** The real api handler over the stack's own adapters, at a time that moves only when told. */
  let now = Date.now();
  const call = async (method: string, path: string, key: string, body?: unknown) => {
    const frozen: Services = { ...stack.services, clock: { now: () => new Date(now) } };
    const api = createApiHandler(frozen);
    const result = await api(
      apiGatewayEvent({
        method,
        url: path,
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        ...(body === undefined ? {} : { body: Buffer.from(JSON.stringify(body)) }),
      }),
      lambdaContext(),
    );
    return {
      status: result.statusCode,
      headers: result.headers ?? {},
      body: result.body === undefined ? null : JSON.parse(result.body),
    };
  };
  const start = (key: string, extra: Record<string, unknown> = {}) =>
    call("POST", "/v1/tasks", key, { definition: "echo", ...extra });

  it("admits a burst of 2 at 1/s, refuses the 3rd with 429 rate_limited and Retry-After, creating nothing; another tenant is unaffected", async () => {
    const beta = keys.beta ?? "";
    const set = await call("PUT", "/v1/tenants/beta/limits", stack.rootKey, { startsPerSecond: 1, burst: 2 });
    expect(set).toMatchObject({
      status: 200,
      body: { id: "beta", limits: { startsPerSecond: 1, burst: 2 } },
    });
    expect((await call("GET", "/v1/tenants/beta/limits", stack.rootKey)).body).toEqual({
      maxChainDepth: 8,
      maxChainTree: 1_000,
      maxConcurrency: null,
      maxWaiting: null,
      startsPerSecond: 1,
      burst: 2,
    });

    const first = await start(beta, { idempotencyKey: "order-1" });
    const second = await start(beta);
    const third = await start(beta);
    expect([first.status, second.status, third.status]).toEqual([202, 202, 429]);
    expect(third.body).toEqual({
      error: "rate_limited",
      message: 'tenant "beta" may start 1 runs per second (burst 2); try again in 1 s',
      details: { retryAfterSeconds: 1, startsPerSecond: 1, burst: 2 },
    });
    expect(third.headers["retry-after"]).toBe("1");
    const listed = await call("GET", "/v1/tasks", beta);
    expect(listed.body.items.map((t: { taskId: string }) => t.taskId).sort()).toEqual(
      [first.body.taskId, second.body.taskId].sort(),
    );

    // An idempotent retry of a start that made its run is answered, not refused.
    const again = await start(beta, { idempotencyKey: "order-1" });
    expect(again).toMatchObject({ status: 202, body: { taskId: first.body.taskId, idempotentReplay: true } });

    // acme has no start rate: the same moment, as many as it likes.
    const acme = await Promise.all([1, 2, 3, 4].map(() => start(stack.adminKey)));
    expect(acme.map((answer) => answer.status)).toEqual([202, 202, 202, 202]);

    // A second on, one more fits, and only one.
    now += 1_000;
    expect((await start(beta)).status).toBe(202);
    expect((await start(beta)).status).toBe(429);
    expect((await call("GET", "/v1/tasks", beta)).body.items).toHaveLength(3);

    // {} clears the tenant's limits: no rate any more.
    expect((await call("PUT", "/v1/tenants/beta/limits", stack.rootKey, {})).body).not.toHaveProperty(
      "limits.burst",
    );
    expect((await call("GET", "/v1/tenants/beta/limits", stack.rootKey)).body).toMatchObject({
      startsPerSecond: null,
      burst: null,
    });
    expect((await start(beta)).status).toBe(202);
  });

  it("only the operator reads or sets limits, and only valid ones", async () => {
    const beta = keys.beta ?? "";
    expect((await call("GET", "/v1/tenants/beta/limits", beta)).status).toBe(403);
    expect((await call("PUT", "/v1/tenants/beta/limits", beta, { startsPerSecond: 1000 })).status).toBe(403);
    expect((await call("GET", "/v1/tenants/nobody/limits", stack.rootKey)).status).toBe(404);
    for (const bad of [
      { startsPerSecond: 0 },
      { startsPerSecond: 1_001 },
      { burst: 3 },
      { startsPerSecond: 1, burst: 0 },
    ]) {
      const answer = await call("PUT", "/v1/tenants/beta/limits", stack.rootKey, bad);
      expect(answer.status, JSON.stringify(bad)).toBe(400);
      expect(answer.body.error).toBe("validation_failed");
    }
  });

  it("sends Retry-After through the HTTP server", async () => {
    await setLimits("gamma", { startsPerSecond: 0.001, burst: 1 });
    const key = keys.gamma ?? "";
    expect((await stack.request("POST", "/v1/tasks", { key, body: { definition: "echo" } })).status).toBe(
      202,
    );
    const refused = await stack.request("POST", "/v1/tasks", { key, body: { definition: "echo" } });
    expect(refused.status).toBe(429);
    expect(refused.body.error).toBe("rate_limited");
    const wait = Number(refused.headers.get("retry-after"));
    expect(wait).toBeGreaterThan(990);
    expect(wait).toBeLessThanOrEqual(1_000);
  });
});

describe("ctx.tasks.start", () => {
  it("meets rate_limited as an error the handler catches, with nothing started", async () => {
    const key = keys.delta ?? "";
    await stack.request("PUT", "/v1/definitions/starter", { key, body: { handler: "starter" } });
    // The parent's own start takes one of the two.
    await setLimits("delta", { startsPerSecond: 0.001, burst: 2 });
    const started = await stack.request("POST", "/v1/tasks", {
      key,
      body: {
        definition: "starter",
        params: { catch: true, starts: [{ definition: "echo", params: { n: 1 } }, { definition: "echo" }] },
      },
    });
    const parent = await waitFor(async () => {
      const { body } = await stack.request("GET", `/v1/tasks/${started.body.taskId}`, { key });
      return body.status === "succeeded" || body.status === "failed" ? body : undefined;
    });
    expect(parent.status).toBe("succeeded");
    const [taken, refused] = parent.output.results;
    expect(taken.status).toBe("queued");
    expect(refused).toEqual({ error: "rate_limited" });
    const listed = await stack.request("GET", `/v1/tasks/${parent.taskId}/started`, { key });
    expect(listed.body.items.map((item: { taskId: string }) => item.taskId)).toEqual([taken.taskId]);
  });
});

describe("cron firings", () => {
  it("record a firing over the start rate as a failed run", async () => {
    const key = keys.epsilon ?? "";
    await stack.request("PUT", "/v1/definitions/tick", {
      key,
      body: { handler: "echo", schedule: { cron: "* * * * *" } },
    });
    await setLimits("epsilon", { startsPerSecond: 0.001, burst: 1 });
    const firing = (minute: number) => ({
      tenant: "epsilon",
      definition: "tick",
      firedAt: new Date(Date.parse("2026-03-01T10:00:00Z") + minute * 60_000),
    });
    expect(await startScheduled(stack.services, firing(0))).toBe("started");
    expect(await startScheduled(stack.services, firing(1))).toBe("rate_limited");
    expect(await startScheduled(stack.services, firing(1))).toBe("duplicate");
    const listed = (await stack.request("GET", "/v1/tasks?definition=tick", { key })).body.items;
    expect(listed).toHaveLength(2);
    expect(listed.find((t: { status: string }) => t.status === "failed")).toMatchObject({
      trigger: "schedule",
      error: { code: "rate_limited" },
    });
  });
});
