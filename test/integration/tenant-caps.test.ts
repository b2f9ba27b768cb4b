/**
 * Tenant caps (issue #12) through the real API, worker and sweeper on the emulators: the
 * operator's maxConcurrency over all of a tenant's definitions, its tenant-wide line and
 * maxWaiting, and another tenant untouched by either.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sweep } from "../../shared/app/sweeper.ts";
import { TENANT_SCOPE } from "../../shared/core/ports.ts";
import { startTestStack, type TestStack, waitFor, waitForEnd } from "../support/stack.ts";

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ leaseSeconds: 3, workerConcurrency: 4 });
});
afterAll(async () => {
  await stack?.stop();
});

const setLimits = (tenant: string, body: unknown, key: string | null = stack.rootKey) =>
  stack.request("PUT", `/v1/tenants/${tenant}/limits`, { key, body });
/** `items` steps of `stepMs` each: long enough to hold a slot while the test looks. */
const work = (steps: number, stepMs = 300) => ({
  params: { items: Array.from({ length: steps }, (_, i) => `item-${i}`), stepMs },
});

describe("a tenant's maxConcurrency and maxWaiting", () => {
  it("runs at most 2 of the tenant's tasks across two definitions, promotes the rest in order, and refuses past maxWaiting", async () => {
    for (const name of ["alpha", "beta"]) {
      const put = await stack.request("PUT", `/v1/definitions/${name}`, { body: { handler: "items" } });
      expect(put.status).toBeLessThan(300);
    }
    const limited = await setLimits("acme", { maxConcurrency: 2, maxWaiting: 3 });
    expect(limited.status).toBe(200);
    expect(limited.body).toMatchObject({ id: "acme", limits: { maxConcurrency: 2, maxWaiting: 3 } });

    // The first two hold their slots (a minute of work) until cancelled; the others are quick.
    const starts = [
      ["alpha", work(200)],
      ["beta", work(200)],
      ["alpha", work(2)],
      ["beta", work(2)],
      ["alpha", work(2)],
    ] as const;
    const answers = [];
    for (const [definition, body] of starts) {
      answers.push(await stack.request("POST", "/v1/tasks", { body: { definition, ...body } }));
    }
    expect(answers.map((a) => a.status)).toEqual([202, 202, 202, 202, 202]);
    expect(answers.map((a) => a.body.status)).toEqual(["queued", "queued", "waiting", "waiting", "waiting"]);
    const [first, second, ...waiting] = answers.map((a) => String(a.body.taskId));

    // The tenant's line is full: refused at once, naming the tenant's limit.
    const refused = await stack.request("POST", "/v1/tasks", { body: { definition: "beta", ...work(1) } });
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({
      error: "queue_full",
      message: expect.stringMatching(/tenant "acme" already has 3 runs waiting.*maxWaiting/),
    });

    // Another tenant is untouched by acme's caps.
    await stack.request("POST", "/v1/tenants", { key: stack.rootKey, body: { id: "globex" } });
    const globexKey = (
      await stack.request("POST", "/v1/tenants/globex/keys", { key: stack.rootKey, body: { role: "admin" } })
    ).body.key;
    await stack.request("PUT", "/v1/definitions/alpha", { key: globexKey, body: { handler: "items" } });
    const theirs = [];
    for (let i = 0; i < 4; i += 1) {
      theirs.push(
        await stack.request("POST", "/v1/tasks", {
          key: globexKey,
          body: { definition: "alpha", ...work(1) },
        }),
      );
    }
    expect(theirs.map((a) => a.body.status)).toEqual(["queued", "queued", "queued", "queued"]);
    for (const answer of theirs) {
      const theirRun = await waitFor(async () => {
        const { body } = await stack.request("GET", `/v1/tasks/${answer.body.taskId}`, { key: globexKey });
        return body.status === "queued" || body.status === "running" ? undefined : body;
      });
      expect(theirRun.status).toBe("succeeded");
    }
    for (const id of waiting)
      expect((await stack.request("GET", `/v1/tasks/${id}`)).body.status).toBe("waiting");

    // The first ends: the waiting runs take its slot one after another, in start order, while
    // the second still holds the other slot.
    expect((await stack.request("POST", `/v1/tasks/${first}/cancel`)).status).toBe(200);
    expect((await waitForEnd(stack, String(first))).status).toBe("cancelled");
    const ended = [];
    for (const id of waiting) ended.push(await waitForEnd(stack, id, 60_000));
    expect(ended.map((t) => t.status)).toEqual(["succeeded", "succeeded", "succeeded"]);
    const spans = ended.map((t) => t.output as { start: number; end: number });
    for (let i = 1; i < spans.length; i += 1) {
      expect(spans[i]?.start).toBeGreaterThanOrEqual(spans[i - 1]?.end ?? Number.POSITIVE_INFINITY);
    }
    expect((await stack.request("GET", `/v1/tasks/${second}`)).body.status).toBe("running");
    await stack.request("POST", `/v1/tasks/${second}/cancel`);
    expect((await waitForEnd(stack, String(second))).status).toBe("cancelled");

    // Nothing is left counted, and the sweeper finds nothing to repair.
    const counters = await stack.services.counters.get("acme", TENANT_SCOPE);
    expect(counters).toMatchObject({ running: 0, waiting: 0 });
    expect(await stack.services.runs.countHolders("acme", TENANT_SCOPE)).toEqual({ running: 0, waiting: 0 });
    expect(await stack.services.counters.get("globex", TENANT_SCOPE)).toBeUndefined();
    expect((await sweep(stack.services)).countersRepaired).toBe(0);
  });

  it("takes limits from the operator only, and refuses maxWaiting without maxConcurrency", async () => {
    expect((await setLimits("acme", { maxConcurrency: 2 }, stack.adminKey)).status).toBe(403);
    const alone = await setLimits("acme", { maxWaiting: 5 });
    expect(alone.status).toBe(400);
    expect(alone.body.message).toMatch(/maxWaiting needs maxConcurrency/);
    expect((await setLimits("acme", { maxConcurrency: 0 })).status).toBe(400);
    expect((await setLimits("nobody", { maxConcurrency: 2 })).status).toBe(404);
    // Lifted: acme's starts are free again.
    expect((await setLimits("acme", {})).status).toBe(200);
  });
});
