/**
 * Tenant caps (issue #12): the operator's maxConcurrency over all of a tenant's definitions, its
 * tenant-wide waiting line and maxWaiting, on top of each definition's own limits.
 */
import { describe, expect, it } from "vitest";
import { startDueRuns } from "../../../shared/app/engine.ts";
import { createTenant, setTenantLimits } from "../../../shared/app/identity.ts";
import { startScheduled } from "../../../shared/app/schedules.ts";
import { sweep } from "../../../shared/app/sweeper.ts";
import { cancelTask } from "../../../shared/app/tasks.ts";
import { TENANT_LIMITS_CACHE_MS } from "../../../shared/app/tenant-limits.ts";
import { QueueFullError, ValidationError } from "../../../shared/core/errors.ts";
import { TENANT_SCOPE } from "../../../shared/core/ports.ts";
import type { Run } from "../../../shared/core/run.ts";
import { defineTask } from "../../../shared/core/task.ts";
import type { TenantLimits } from "../../../shared/core/tenant.ts";
import { type AppHarness, appHarness, caller as callerOf } from "../../support/memory-app.ts";

async function cappedHarness(limits: TenantLimits, options: Parameters<typeof appHarness>[0] = {}) {
  const h = appHarness(options);
  await createTenant(h.svc, { id: "acme" });
  await setTenantLimits(h.svc, "acme", limits);
  return h;
}

async function counts(h: AppHarness, definition: string, tenant = "acme") {
  const c = await h.counters.get(tenant, definition);
  return { running: c?.running ?? 0, waiting: c?.waiting ?? 0 };
}

async function statuses(h: AppHarness, runs: Pick<Run, "id">[]) {
  return Promise.all(runs.map(async (run) => (await h.run(run.id)).status));
}

/** The counters agree with what the runs say, for the tenant and every definition named. */
async function expectCountersTrue(h: AppHarness, definitions: string[]) {
  for (const definition of [TENANT_SCOPE, ...definitions]) {
    expect(await counts(h, definition), definition).toEqual(await h.runs.countHolders("acme", definition));
  }
}

describe("a tenant's maxConcurrency", () => {
  it("holds the tenant's runs across its definitions; the rest wait in the tenant's line and go oldest first", async () => {
    const h = await cappedHarness({ maxConcurrency: 2 });
    await h.define("a", { handler: "counted" });
    await h.define("b", { handler: "counted" });
    const runs: Run[] = [];
    for (let i = 0; i < 5; i += 1) {
      runs.push(await h.start({ definition: i % 2 === 0 ? "a" : "b", params: { n: i } }));
      h.clock.advance(10);
    }
    expect(runs.map((r) => r.status)).toEqual(["queued", "queued", "waiting", "waiting", "waiting"]);
    expect(runs.map((r) => [r.tenantSlot, r.tenantLine, r.slot])).toEqual([
      [true, undefined, undefined],
      [true, undefined, undefined],
      [undefined, true, undefined],
      [undefined, true, undefined],
      [undefined, true, undefined],
    ]);
    expect(await counts(h, TENANT_SCOPE)).toEqual({ running: 2, waiting: 3 });
    // Unlimited definitions keep no counters of their own, capped tenant or not.
    expect(await h.counters.get("acme", "a")).toBeUndefined();
    expect(h.queue.pendingRunIds()).toEqual([runs[0]?.id, runs[1]?.id]);

    await h.drain();
    expect(await statuses(h, runs)).toEqual(runs.map(() => "succeeded"));
    expect(await counts(h, TENANT_SCOPE)).toEqual({ running: 0, waiting: 0 });
    await expectCountersTrue(h, ["a", "b"]);
  });

  it("promotes the tenant's line in start order, whichever definition each run is of", async () => {
    const h = await cappedHarness({ maxConcurrency: 1 });
    await h.define("a", { handler: "counted" });
    await h.define("b", { handler: "counted", maxConcurrency: 5 });
    const runs: Run[] = [];
    for (let i = 0; i < 6; i += 1) {
      runs.push(await h.start({ definition: i % 3 === 0 ? "a" : "b" }));
      h.clock.advance(10);
    }
    await h.drain();
    // One slot: each end let the oldest waiting run in, so the handlers ran in start order.
    expect([...h.invocations.keys()]).toEqual(runs.map((r) => r.id));
    await expectCountersTrue(h, ["b"]);
  });

  it("lets at most maxConcurrency of 20 concurrent starts hold a slot, and finishes all 20", async () => {
    let holding = 0;
    let mostHolding = 0;
    let mostCounted = 0;
    let h: AppHarness | undefined;
    const observed = defineTask({
      handler: "observed",
      async run() {
        holding += 1;
        mostHolding = Math.max(mostHolding, holding);
        const held = await h?.runs.countHolders("acme", TENANT_SCOPE);
        mostCounted = Math.max(mostCounted, held?.running ?? 0);
        // Let the other message groups of the batch run meanwhile.
        await new Promise((resolve) => setImmediate(resolve));
        holding -= 1;
        return {};
      },
    });
    h = await cappedHarness({ maxConcurrency: 3 }, { handlers: [observed] });
    await h.define("wide", { handler: "observed" });
    // A definition limit under the tenant cap: its runs must pass both gates.
    await h.define("narrow", { handler: "observed", maxConcurrency: 1 });
    const harness = h;
    const runs = await Promise.all(
      Array.from({ length: 20 }, (_, i) => harness.start({ definition: i % 3 === 0 ? "narrow" : "wide" })),
    );
    expect(runs.filter((r) => r.status === "queued")).toHaveLength(3);
    expect((await h.runs.countHolders("acme", TENANT_SCOPE)).running).toBe(3);
    expect(await counts(h, TENANT_SCOPE)).toMatchObject({ running: 3 });
    await expectCountersTrue(h, ["narrow"]);

    await h.drain();
    expect(await statuses(h, runs)).toEqual(runs.map(() => "succeeded"));
    expect(mostHolding).toBeLessThanOrEqual(3);
    expect(mostCounted).toBeLessThanOrEqual(3);
    expect(h.metrics.total("RunsSucceeded")).toBe(20);
    expect(await counts(h, TENANT_SCOPE)).toEqual({ running: 0, waiting: 0 });
    expect(await counts(h, "narrow")).toEqual({ running: 0, waiting: 0 });
  });

  it("moves a promoted run whose definition is full to that definition's line, and back when the tenant is full, never losing one", async () => {
    const h = await cappedHarness({ maxConcurrency: 3 });
    await h.define("a", { handler: "counted", maxConcurrency: 1 });
    await h.define("b", { handler: "counted" });
    const a1 = await h.start({ definition: "a" });
    const a2 = await h.start({ definition: "a" }); // the tenant has room, "a" has none
    const b1 = await h.start({ definition: "b" });
    const b2 = await h.start({ definition: "b" });
    const b3 = await h.start({ definition: "b" }); // the tenant is full
    const a3 = await h.start({ definition: "a" }); // both are full: the tenant's line comes first
    expect(await statuses(h, [a1, a2, b1, b2, b3, a3])).toEqual([
      "queued",
      "waiting",
      "queued",
      "queued",
      "waiting",
      "waiting",
    ]);
    expect([a2, b3, a3].map((r) => r.tenantLine)).toEqual([undefined, true, true]);
    expect(await counts(h, TENANT_SCOPE)).toEqual({ running: 3, waiting: 2 });
    expect(await counts(h, "a")).toEqual({ running: 1, waiting: 1 });

    // A tenant slot frees: the oldest of the tenant's line (b3, unlimited) takes it.
    await cancelTask(h.svc, h.runner, b1.id);
    expect(await h.run(b3.id)).toMatchObject({ status: "queued", tenantSlot: true });
    expect((await h.run(b3.id)).slot).toBeUndefined();
    // Both of a1's slots free: a2, first in a's line, takes both.
    await cancelTask(h.svc, h.runner, a1.id);
    expect(await h.run(a2.id)).toMatchObject({ status: "queued", slot: true, tenantSlot: true });
    // A tenant slot frees, but a3's definition is full: a3 moves to a's line, taking nothing.
    await cancelTask(h.svc, h.runner, b2.id);
    expect(await h.run(a3.id)).toMatchObject({ status: "waiting" });
    expect((await h.run(a3.id)).tenantLine).toBeUndefined();
    expect(await counts(h, TENANT_SCOPE)).toEqual({ running: 2, waiting: 0 });
    expect(await counts(h, "a")).toEqual({ running: 1, waiting: 1 });
    await expectCountersTrue(h, ["a", "b"]);
    // a2 ends: a3 takes a's slot and a tenant slot.
    await cancelTask(h.svc, h.runner, a2.id);
    expect(await h.run(a3.id)).toMatchObject({ status: "queued", slot: true, tenantSlot: true });

    await h.drain();
    expect(await statuses(h, [b3, a3])).toEqual(["succeeded", "succeeded"]);
    expect(await counts(h, TENANT_SCOPE)).toEqual({ running: 0, waiting: 0 });
    expect(await counts(h, "a")).toEqual({ running: 0, waiting: 0 });
  });

  it("moves a run of a definition's line to the tenant's line when its definition has room and the tenant has none", async () => {
    const h = await cappedHarness({ maxConcurrency: 2 });
    await h.define("a", { handler: "counted", maxConcurrency: 1 });
    await h.define("b", { handler: "counted" });
    const a1 = await h.start({ definition: "a" });
    const a2 = await h.start({ definition: "a" }); // in a's line
    const b1 = await h.start({ definition: "b" }); // the tenant is full now
    // a's limit is raised: a2 may pass its definition's gate, but not the tenant's.
    await h.define("a", { handler: "counted", maxConcurrency: 2 });
    expect(await h.run(a2.id)).toMatchObject({ status: "waiting", tenantLine: true });
    expect(await counts(h, "a")).toEqual({ running: 1, waiting: 0 });
    expect(await counts(h, TENANT_SCOPE)).toEqual({ running: 2, waiting: 1 });
    // b1 ends: a2 comes out of the tenant's line into both slots.
    await cancelTask(h.svc, h.runner, b1.id);
    expect(await h.run(a2.id)).toMatchObject({ status: "queued", slot: true, tenantSlot: true });
    expect(await counts(h, "a")).toEqual({ running: 2, waiting: 0 });
    await h.drain();
    expect(await statuses(h, [a1, a2])).toEqual(["succeeded", "succeeded"]);
    await expectCountersTrue(h, ["a"]);
  });

  it("gives a cancelled run's place in the tenant's line back", async () => {
    const h = await cappedHarness({ maxConcurrency: 1, maxWaiting: 1 });
    await h.define("a", { handler: "counted" });
    await h.start({ definition: "a" });
    const waiting = await h.start({ definition: "a" });
    await expect(h.start({ definition: "a" })).rejects.toBeInstanceOf(QueueFullError);
    await cancelTask(h.svc, h.runner, waiting.id);
    expect(await counts(h, TENANT_SCOPE)).toEqual({ running: 1, waiting: 0 });
    expect((await h.start({ definition: "a" })).status).toBe("waiting");
  });
});

describe("a tenant's maxWaiting", () => {
  it("refuses a start that would pass it with queue_full naming the tenant limit, writing nothing", async () => {
    const h = await cappedHarness({ maxConcurrency: 1, maxWaiting: 2 });
    await h.define("a", { handler: "counted" });
    await h.define("b", { handler: "counted", maxConcurrency: 5, maxQueueLength: 100 });
    await h.start({ definition: "a" });
    await h.start({ definition: "b" });
    await h.start({ definition: "a" });
    const full = h.start({ definition: "b" });
    await expect(full).rejects.toBeInstanceOf(QueueFullError);
    await expect(full).rejects.toMatchObject({
      message: expect.stringMatching(/tenant "acme" already has 2 runs waiting.*maxWaiting/),
      details: { limit: "tenant", maxWaiting: 2, maxConcurrency: 1 },
    });
    expect(await counts(h, TENANT_SCOPE)).toEqual({ running: 1, waiting: 2 });
    expect(await counts(h, "b")).toEqual({ running: 0, waiting: 0 });
    expect((await h.runs.list({ tenant: "acme", limit: 10 })).items).toHaveLength(3);
    expect(h.metrics.total("RunsStarted")).toBe(3);
  });

  it("is refused without maxConcurrency (nothing would ever wait in the tenant's line)", async () => {
    const h = appHarness();
    await createTenant(h.svc, { id: "acme" });
    await expect(setTenantLimits(h.svc, "acme", { maxWaiting: 5 })).rejects.toBeInstanceOf(ValidationError);
  });

  it("fails a delayed start that falls due when the tenant's line is full, saying so", async () => {
    const h = await cappedHarness({ maxConcurrency: 1, maxWaiting: 1 });
    await h.define("a", { handler: "counted" });
    const later = await h.start({ definition: "a", after: 60_000 });
    const early = await h.start({ definition: "a", after: 30_000 });
    await h.start({ definition: "a" });
    h.clock.advance(30_000);
    await startDueRuns(h.svc, h.clock.now());
    expect(await h.run(early.id)).toMatchObject({ status: "waiting", tenantLine: true });
    h.clock.advance(30_000);
    await startDueRuns(h.svc, h.clock.now());
    expect(await h.run(later.id)).toMatchObject({
      status: "failed",
      error: { code: "queue_full", message: expect.stringMatching(/tenant "acme".*maxWaiting/) },
    });
    expect(await counts(h, TENANT_SCOPE)).toEqual({ running: 1, waiting: 1 });
  });
});

describe("a cron firing refused by the tenant's line", () => {
  it("is recorded as a failed run that names the tenant's limit", async () => {
    const h = await cappedHarness({ maxConcurrency: 1, maxWaiting: 0 });
    await h.define("nightly", { handler: "counted", schedule: { cron: "0 3 * * *", timezone: "UTC" } });
    await h.start({ definition: "nightly" });
    const firedAt = new Date("2026-01-02T03:00:00.000Z");
    expect(await startScheduled(h.svc, { tenant: "acme", definition: "nightly", firedAt })).toBe(
      "queue_full",
    );
    const refused = (await h.runs.list({ tenant: "acme", status: "failed", limit: 10 })).items;
    expect(refused).toHaveLength(1);
    expect(refused[0]).toMatchObject({
      trigger: "schedule",
      error: { code: "queue_full", message: expect.stringMatching(/tenant had its maxWaiting of 0 runs/) },
    });
    expect(await counts(h, TENANT_SCOPE)).toEqual({ running: 1, waiting: 0 });
  });
});

describe("tenants without a cap, and changes to the cap", () => {
  it("leave an uncapped tenant alone: its runs write no tenant counters and take no tenant slot", async () => {
    const h = await cappedHarness({ maxConcurrency: 1 });
    await createTenant(h.svc, { id: "globex" });
    await h.define("a", { handler: "counted" });
    await h.define("a", { handler: "counted" }, "globex");
    await h.start({ definition: "a" });
    const globex = callerOf("globex", "runner");
    const theirs = await Promise.all([1, 2, 3].map(() => h.start({ definition: "a" }, globex)));
    expect(theirs.map((r) => r.status)).toEqual(["queued", "queued", "queued"]);
    expect(theirs.map((r) => r.tenantSlot)).toEqual([undefined, undefined, undefined]);
    expect(await h.counters.get("globex", TENANT_SCOPE)).toBeUndefined();
    expect((await h.counters.list()).items.map((c) => `${c.tenant}/${c.definition}`)).toEqual(["acme/*"]);
    // acme's cap still holds.
    expect((await h.start({ definition: "a" })).status).toBe("waiting");
  });

  it("lets waiting runs in at once when the cap is raised or lifted, and none when it is lowered", async () => {
    const h = await cappedHarness({ maxConcurrency: 1 });
    await h.define("a", { handler: "counted" });
    const runs: Run[] = [];
    for (let i = 0; i < 5; i += 1) runs.push(await h.start({ definition: "a" }));
    await setTenantLimits(h.svc, "acme", { maxConcurrency: 2 });
    expect(await statuses(h, runs)).toEqual(["queued", "queued", "waiting", "waiting", "waiting"]);
    await setTenantLimits(h.svc, "acme", { maxConcurrency: 1 });
    expect(await statuses(h, runs)).toEqual(["queued", "queued", "waiting", "waiting", "waiting"]);
    // Lifted: everyone in line goes, and new starts write no tenant counters.
    await setTenantLimits(h.svc, "acme", {});
    expect(await statuses(h, runs)).toEqual(runs.map(() => "queued"));
    expect(await counts(h, TENANT_SCOPE)).toEqual({ running: 5, waiting: 0 });
    const free = await h.start({ definition: "a" });
    expect(free).toMatchObject({ status: "queued" });
    expect(free.tenantSlot).toBeUndefined();
    // Runs give back what they took, whatever the limits are now.
    await h.drain();
    expect(await counts(h, TENANT_SCOPE)).toEqual({ running: 0, waiting: 0 });
  });

  it("reads the cap through a short cache: a change made elsewhere applies within TENANT_LIMITS_CACHE_MS", async () => {
    const h = await cappedHarness({});
    await h.define("a", { handler: "counted" });
    await h.start({ definition: "a" });
    // Another process (the API of another Lambda instance) caps the tenant.
    await h.tenants.setLimits("acme", { maxConcurrency: 1 });
    expect((await h.start({ definition: "a" })).tenantSlot).toBeUndefined();
    h.clock.advance(TENANT_LIMITS_CACHE_MS);
    const capped = await h.start({ definition: "a" });
    expect(capped).toMatchObject({ status: "queued", tenantSlot: true });
    expect((await h.start({ definition: "a" })).status).toBe("waiting");
  });
});

describe("the sweeper and the tenant's counters", () => {
  it("sets drifted tenant counters back to what the runs say, once quiet, and fills freed tenant slots", async () => {
    const h = await cappedHarness({ maxConcurrency: 1 });
    await h.define("a", { handler: "counted" });
    const first = await h.start({ definition: "a" });
    const second = await h.start({ definition: "a" });
    // The holder ends without giving its tenant slot back (as if that counter write were lost).
    await h.svc.runs.transition(
      first,
      { status: "queued", attempts: 0 },
      { status: "cancelled", endedAt: h.clock.now().toISOString(), sweepAt: null },
    );
    expect(await counts(h, TENANT_SCOPE)).toEqual({ running: 1, waiting: 1 });
    expect(await h.runs.countHolders("acme", TENANT_SCOPE)).toEqual({ running: 0, waiting: 1 });
    expect((await sweep(h.svc)).countersRepaired).toBe(0); // not quiet yet
    h.clock.advance(10_000);
    expect(await sweep(h.svc)).toMatchObject({ countersRepaired: 1, promoted: 1 });
    expect(await h.run(second.id)).toMatchObject({ status: "queued", tenantSlot: true });
    expect(await counts(h, TENANT_SCOPE)).toEqual({ running: 1, waiting: 0 });
  });
});

describe("a tenant's cap over a sharded definition", () => {
  it("holds both gates with the definition's counters in shards, hands slots on, and runs every accepted run", async () => {
    const h = await cappedHarness({ maxConcurrency: 3, maxWaiting: 20 });
    h.svc.admission = { slotsPerShard: 1 };
    await h.define("wide", { handler: "counted", maxConcurrency: 4 });
    const runs: Run[] = [];
    for (let i = 0; i < 12; i += 1) {
      runs.push(await h.start({ definition: "wide", params: { n: i } }));
      h.clock.advance(10);
    }
    const stored = await Promise.all(runs.map((r) => h.run(r.id)));
    expect(stored.filter((r) => r.tenantSlot === true)).toHaveLength(3);
    expect(stored.filter((r) => r.slot === true).length).toBeLessThanOrEqual(3);
    expect(new Set(stored.map((r) => r.shard ?? 0)).size).toBeGreaterThan(1);
    const scopes = [0, 1, 2, 3].map((shard) => (shard === 0 ? "wide" : `wide#${shard}`));
    await expectCountersTrue(h, scopes);
    await h.settle();
    expect(new Set(await statuses(h, runs))).toEqual(new Set(["succeeded"]));
    await expectCountersTrue(h, scopes);
    expect(await counts(h, TENANT_SCOPE)).toEqual({ running: 0, waiting: 0 });
  });
});
