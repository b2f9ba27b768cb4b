/**
 * A tenant's start rate, at every way a run starts: API starts, ctx.tasks.start, chains, cron
 * firings, workflows. The memory services' clock stands still unless moved, so the bucket's
 * arithmetic is exact here.
 */
import { describe, expect, it } from "vitest";
import { chainChildId, putChain } from "../../../shared/app/chains.ts";
import { childRunId } from "../../../shared/app/child-starts.ts";
import { createTenant, getTenantLimits, setTenantLimits } from "../../../shared/app/identity.ts";
import { startScheduled } from "../../../shared/app/schedules.ts";
import { listTasks } from "../../../shared/app/tasks.ts";
import { BatonError, NotFoundError, RateLimitedError } from "../../../shared/core/errors.ts";
import { defineTask, type TaskStartOptions } from "../../../shared/core/task.ts";
import type { TenantLimits } from "../../../shared/core/tenant.ts";
import { stepRunId } from "../../../shared/core/workflow.ts";
import { type AppHarness, appHarness, caller } from "../../support/memory-app.ts";

/** Starts the runs its params list with ctx.tasks.start; refusals are caught and reported by code. */
const starter = defineTask({
  handler: "rate-starter",
  async run(ctx, params) {
    const results: unknown[] = [];
    for (const start of params.starts as TaskStartOptions[]) {
      try {
        results.push(await ctx.tasks.start(start));
      } catch (error) {
        if (!(error instanceof BatonError)) throw error;
        results.push({
          error: error.code,
          ...(error instanceof RateLimitedError ? { retryAfterSeconds: error.retryAfterSeconds } : {}),
        });
      }
    }
    if (params.failFirst === true && ctx.attempt === 1)
      throw new Error("first attempt fails after its starts");
    return { results };
  },
});

async function limited(limits: TenantLimits, tenant = "acme"): Promise<AppHarness> {
  const h = appHarness({ handlers: [starter] });
  await createTenant(h.svc, { id: tenant });
  await setTenantLimits(h.svc, tenant, limits);
  await h.define("echo", { handler: "echo" }, tenant);
  return h;
}

async function refusal(start: Promise<unknown>): Promise<RateLimitedError> {
  const error = await start.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RateLimitedError);
  return error as RateLimitedError;
}

describe("a tenant's start rate", () => {
  it("admits the burst, then refuses with the seconds to wait and writes nothing; another tenant is unaffected", async () => {
    const h = await limited({ startsPerSecond: 1, burst: 2 });
    await h.define("echo", { handler: "echo" }, "globex");
    await h.start({ definition: "echo" });
    await h.start({ definition: "echo" });
    const refused = await refusal(h.start({ definition: "echo" }));
    expect(refused).toMatchObject({
      code: "rate_limited",
      retryAfterSeconds: 1,
      details: { retryAfterSeconds: 1, startsPerSecond: 1, burst: 2 },
    });
    expect(refused.message).toMatch(/tenant "acme" may start 1 runs per second \(burst 2\)/);
    expect((await listTasks(h.svc, h.admin, {})).items).toHaveLength(2);
    // globex has no start rate: as many as it likes, at the same moment.
    for (let i = 0; i < 5; i += 1) await h.start({ definition: "echo" }, caller("globex"));
    expect((await listTasks(h.svc, caller("globex"), {})).items).toHaveLength(5);

    h.clock.advance(999);
    await refusal(h.start({ definition: "echo" }));
    h.clock.advance(1);
    await h.start({ definition: "echo" });
    await refusal(h.start({ definition: "echo" }));
    expect((await listTasks(h.svc, h.admin, {})).items).toHaveLength(3);
  });

  it("takes nothing for a start that is invalid, and lets an idempotent repeat through", async () => {
    const h = await limited({ startsPerSecond: 1, burst: 1 });
    await expect(h.start({ definition: "absent" })).rejects.toMatchObject({ code: "unknown_definition" });
    await expect(h.start({ definition: "echo", at: "tomorrow" })).rejects.toMatchObject({
      code: "validation_failed",
    });
    const first = await h.start({ definition: "echo", idempotencyKey: "order-7" });
    // The bucket is empty now; the same start again answers with the same run, and writes nothing.
    expect((await h.start({ definition: "echo", idempotencyKey: "order-7" })).id).toBe(first.id);
    await refusal(h.start({ definition: "echo", idempotencyKey: "order-8" }));
    expect((await listTasks(h.svc, h.admin, {})).items.map((run) => run.id)).toEqual([first.id]);
  });

  it("counts a delayed start when it is asked for, not again when it falls due", async () => {
    const h = await limited({ startsPerSecond: 1, burst: 1 });
    const later = await h.start({ definition: "echo", after: 60_000 });
    expect(later.status).toBe("scheduled");
    await refusal(h.start({ definition: "echo" }));
    // When it falls due the bucket has refilled, but the due start takes nothing from it.
    await h.settle();
    expect((await h.run(later.id)).status).toBe("succeeded");
    await h.start({ definition: "echo" });
  });

  it("applies a change at the next start; {} clears it", async () => {
    const h = await limited({ startsPerSecond: 1, burst: 1 });
    await h.start({ definition: "echo" });
    await refusal(h.start({ definition: "echo" }));
    await setTenantLimits(h.svc, "acme", {});
    expect(await getTenantLimits(h.svc, "acme")).toEqual({
      maxChainDepth: 8,
      maxChainTree: 1_000,
      maxConcurrency: null,
      maxWaiting: null,
      startsPerSecond: null,
      burst: null,
    });
    for (let i = 0; i < 5; i += 1) await h.start({ definition: "echo" });
    await setTenantLimits(h.svc, "acme", { startsPerSecond: 0.5, maxChainDepth: 3 });
    expect(await getTenantLimits(h.svc, "acme")).toEqual({
      maxChainDepth: 3,
      maxChainTree: 1_000,
      maxConcurrency: null,
      maxWaiting: null,
      startsPerSecond: 0.5,
      burst: 1,
    });
    // Replace, not merge: the rate set before is gone with the first change, and back now.
    h.clock.advance(10_000);
    await h.start({ definition: "echo" });
    expect((await refusal(h.start({ definition: "echo" }))).retryAfterSeconds).toBe(2);
    await expect(getTenantLimits(h.svc, "nobody")).rejects.toBeInstanceOf(NotFoundError);
  });

  it("refuses ctx.tasks.start with an error the handler catches; a retried call gets its run back", async () => {
    // The parent's own start takes one of the three.
    const h = await limited({ startsPerSecond: 0.01, burst: 3 });
    await h.define("starter", { handler: "rate-starter", maxAttempts: 2 });
    const parent = await h.start({
      definition: "starter",
      params: {
        failFirst: true,
        starts: [
          { definition: "echo", params: { n: 1 } },
          { definition: "echo", params: { n: 2 } },
          { definition: "echo", params: { n: 3 } },
        ],
      },
    });
    await h.settle({ until: new Date(h.clock.now().getTime() + 10_000) });
    const ended = await h.run(parent.id);
    // The first attempt took the bucket's last two starts and failed; the retry made the same
    // calls with the bucket empty: the two it made before answer with their runs, the third is
    // refused again.
    expect(ended).toMatchObject({ status: "succeeded", attempts: 2 });
    expect(ended.output).toEqual({
      results: [
        { taskId: childRunId(parent, "1"), status: "succeeded" },
        { taskId: childRunId(parent, "2"), status: "succeeded" },
        { error: "rate_limited", retryAfterSeconds: expect.any(Number) },
      ],
    });
    // The bucket's three starts, 100 s apart, were taken at the first attempt: the next fits
    // within 100 s of it, and the retry came after its backoff.
    const wait = (ended.output as { results: Array<{ retryAfterSeconds?: number }> }).results[2]
      ?.retryAfterSeconds;
    expect(wait).toBeGreaterThanOrEqual(1);
    expect(wait).toBeLessThanOrEqual(100);
    expect((await h.svc.runs.startedBy(parent, { limit: 10 })).items).toHaveLength(2);
  });

  it("records a cron firing it refuses as a failed run, once per firing", async () => {
    const h = await limited({ startsPerSecond: 0.01, burst: 1 });
    await h.define("nightly", { handler: "echo", schedule: { cron: "* * * * *", timezone: "UTC" } });
    const firing = (minute: number) => ({
      tenant: "acme",
      definition: "nightly",
      firedAt: new Date(Date.parse("2026-01-01T00:00:00Z") + minute * 60_000),
    });
    expect(await startScheduled(h.svc, firing(0))).toBe("started");
    expect(await startScheduled(h.svc, firing(1))).toBe("rate_limited");
    // Delivered again: the refusal was recorded already, and the bucket is not asked twice.
    expect(await startScheduled(h.svc, firing(1))).toBe("duplicate");
    expect(await startScheduled(h.svc, firing(0))).toBe("duplicate");
    const failed = (await listTasks(h.svc, h.admin, { status: "failed" })).items;
    expect(failed).toMatchObject([
      {
        trigger: "schedule",
        attempts: 0,
        error: { code: "rate_limited", message: expect.stringMatching(/start rate/) },
      },
    ]);
    expect((await listTasks(h.svc, h.admin, {})).items).toHaveLength(2);
  });

  it("records a chained start it refuses as the chain's outcome; the run itself succeeds", async () => {
    const h = await limited({ startsPerSecond: 0.01, burst: 2 });
    await putChain(h.svc, "acme", "then-echo", { definition: "echo" });
    const source = await h.start({
      definition: "echo",
      chain: [{ name: "then-echo" }, { name: "then-echo" }],
    });
    await h.drain();
    const ended = await h.run(source.id);
    expect(ended.status).toBe("succeeded");
    expect(ended.chainOutcomes).toEqual([
      { name: "then-echo", customerId: "acme", status: "started", childTaskId: chainChildId(source, 0) },
      {
        name: "then-echo",
        customerId: "acme",
        status: "failed",
        error: { code: "rate_limited", message: expect.stringMatching(/burst 2/) },
      },
    ]);
    await expect(h.svc.runs.get({ tenant: "acme", id: chainChildId(source, 1) })).resolves.toBeUndefined();
  });

  it("counts a workflow as one start: its steps take nothing", async () => {
    const h = await limited({ startsPerSecond: 0.01, burst: 1 });
    await h.define("pair", {
      kind: "workflow",
      steps: [
        { id: "one", definition: "echo" },
        { id: "two", definition: "echo" },
        { id: "three", definition: "echo", dependsOn: ["one", "two"] },
      ],
    });
    const flow = await h.start({ definition: "pair" });
    await h.drain();
    expect((await h.run(flow.id)).status).toBe("succeeded");
    expect((await h.run(stepRunId(flow.id, "three"))).status).toBe("succeeded");
    await refusal(h.start({ definition: "pair" }));
  });
});
