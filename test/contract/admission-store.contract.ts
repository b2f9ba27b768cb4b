/**
 * What every RunStore + CounterStore pair must do for admission: run writes and counter changes
 * happen together or not at all, and the sparse indexes hold exactly the runs they describe.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { changeLinePatch, newRun, promotedPatch } from "../../shared/core/lifecycle.ts";
import {
  type CounterEffect,
  type CounterStore,
  type RunStore,
  TENANT_SCOPE,
} from "../../shared/core/ports.ts";
import type { Run } from "../../shared/core/run.ts";

const T0 = Date.parse("2026-01-01T00:00:00.000Z");
const at = (ms: number) => new Date(T0 + ms).toISOString();

function aRun(id: string, status: "queued" | "waiting" | "scheduled", createdMs = 0, priority?: number): Run {
  return newRun(
    {
      tenant: "acme",
      id,
      definition: {
        tenant: "acme",
        name: "limited",
        handler: "echo",
        params: {},
        maxAttempts: 1,
        timeoutSeconds: 60,
        maxConcurrency: 1,
        maxQueueLength: 2,
        createdAt: "",
        updatedAt: "",
      },
      params: {},
      createdBy: "k",
      ...(priority === undefined ? {} : { priority }),
    },
    status,
    new Date(T0 + createdMs),
  );
}

const take = (require: CounterEffect["require"] = {}): CounterEffect => ({
  definition: "limited",
  running: 1,
  require: { runningBelow: 1, noneWaiting: true, ...require },
  at: at(0),
});
const tenantTake = (): CounterEffect => ({
  definition: TENANT_SCOPE,
  running: 1,
  require: { runningBelow: 1, noneWaiting: true },
  at: at(0),
});
const tenantJoin = (): CounterEffect => ({ definition: TENANT_SCOPE, waiting: 1, at: at(0) });
const join = (waitingBelow = 2): CounterEffect => ({
  definition: "limited",
  waiting: 1,
  require: { waitingBelow },
  at: at(0),
});

export function admissionStoreContract(
  name: string,
  makeStores: () => Promise<{ runs: RunStore; counters: CounterStore }>,
): void {
  describe(`admission contract: ${name}`, () => {
    let runs: RunStore;
    let counters: CounterStore;
    beforeEach(async () => {
      ({ runs, counters } = await makeStores());
    });

    it("writes a run and its counter change together, and refuses both when the counter says no", async () => {
      expect(await runs.create(aRun("a", "queued"), { counters: [take()] })).toEqual({ ok: true });
      expect(await runs.create(aRun("b", "queued"), { counters: [take()] })).toEqual({
        ok: false,
        cause: "counter",
        definition: "limited",
      });
      expect(await runs.get({ tenant: "acme", id: "b" })).toBeUndefined();
      expect(await counters.get("acme", "limited")).toMatchObject({ running: 1, waiting: 0, version: 1 });
    });

    it("caps the waiting line, and never lets a start overtake runs already waiting", async () => {
      await runs.create(aRun("w1", "waiting", 1), { counters: [join()] });
      await runs.create(aRun("w2", "waiting", 2), { counters: [join()] });
      expect(await runs.create(aRun("w3", "waiting", 3), { counters: [join()] })).toEqual({
        ok: false,
        cause: "counter",
        definition: "limited",
      });
      // A free slot, but two wait: a direct start must not take it.
      expect(await runs.create(aRun("d", "queued"), { counters: [take()] })).toEqual({
        ok: false,
        cause: "counter",
        definition: "limited",
      });
      expect(await runs.waiting("acme", "limited", 10)).toEqual([
        { tenant: "acme", id: "w1", timeoutSeconds: 60 },
        { tenant: "acme", id: "w2", timeoutSeconds: 60 },
      ]);
      expect(await runs.countHolders("acme", "limited")).toEqual({ running: 0, waiting: 2 });
    });

    it("orders a line by priority, highest first, then by start time, whichever way a run joined it", async () => {
      await runs.create(aRun("low-old", "waiting", 1, 0), { counters: [join(10)] });
      await runs.create(aRun("high", "waiting", 2, 7), { counters: [join(10)] });
      await runs.create(aRun("low-new", "waiting", 3), { counters: [join(10)] });
      await runs.create(aRun("top", "waiting", 4, 9), { counters: [join(10)] });
      await runs.create(aRun("high-new", "waiting", 5, 7), { counters: [join(10)] });
      // A delayed start falling due joins the line later, in the place its priority and start time give it.
      const delayed = aRun("delayed", "scheduled", 0, 7);
      await runs.create(delayed);
      const due = await runs.transition(
        delayed,
        { status: "scheduled", attempts: 0 },
        { status: "waiting", updatedAt: at(6) },
        [join(10)],
      );
      expect(due).toEqual({ ok: true });
      expect((await runs.waiting("acme", "limited", 10)).map((r) => r.id)).toEqual([
        "top",
        "delayed",
        "high",
        "high-new",
        "low-old",
        "low-new",
      ]);
      expect((await runs.waiting("acme", "limited", 2)).map((r) => r.id)).toEqual(["top", "delayed"]);
      expect(await runs.countHolders("acme", "limited")).toEqual({ running: 0, waiting: 6 });
    });

    it("opens a debounce window with its run, once: a second opener is refused unless it replaces the closed window", async () => {
      const record = (runId: string) => ({
        tenant: "acme",
        definition: "limited",
        key: "burst:1",
        runId,
        mode: "trailing" as const,
        delayMs: 1_000,
        closesAt: at(60_000),
        expiresAt: Math.floor((T0 + 60_000) / 1000) + 86_400,
      });
      expect(await runs.getDebounce("acme", "limited", "burst:1")).toBeUndefined();
      expect(await runs.create(aRun("d1", "scheduled"), { debounce: { record: record("d1") } })).toEqual({
        ok: true,
      });
      expect(await runs.getDebounce("acme", "limited", "burst:1")).toEqual(record("d1"));
      // A concurrent opener: neither its run nor its window is written.
      expect(await runs.create(aRun("d2", "scheduled"), { debounce: { record: record("d2") } })).toEqual({
        ok: false,
        cause: "debounce",
      });
      expect(await runs.get({ tenant: "acme", id: "d2" })).toBeUndefined();
      // One that read another closed window than the one there: refused too.
      expect(
        await runs.create(aRun("d3", "scheduled"), { debounce: { record: record("d3"), replaces: "old" } }),
      ).toEqual({ ok: false, cause: "debounce" });
      // The window of d1 closed: replacing it opens the next.
      expect(
        await runs.create(aRun("d4", "scheduled"), { debounce: { record: record("d4"), replaces: "d1" } }),
      ).toEqual({ ok: true });
      expect((await runs.getDebounce("acme", "limited", "burst:1"))?.runId).toBe("d4");
      // Keys, definitions and tenants each have their own windows.
      expect(await runs.getDebounce("acme", "limited", "burst:2")).toBeUndefined();
      expect(await runs.getDebounce("acme", "other", "burst:1")).toBeUndefined();
      expect(await runs.getDebounce("globex", "limited", "burst:1")).toBeUndefined();

      // A join rewrites the scheduled run's params (bulky ones beside the item, then small again) and due time.
      const bulky = { n: 2, pad: "x".repeat(1_000) };
      const joined = await runs.update(
        { tenant: "acme", id: "d4" },
        { status: "scheduled", attempts: 0 },
        { params: bulky, scheduledFor: at(5_000), updatedAt: at(1) },
      );
      expect(joined).toMatchObject({ params: bulky, scheduledFor: at(5_000) });
      expect(await runs.get({ tenant: "acme", id: "d4" })).toMatchObject({ params: bulky });
      await runs.update(
        { tenant: "acme", id: "d4" },
        { status: "scheduled", attempts: 0, updatedAt: at(1) },
        { params: { n: 3 }, updatedAt: at(2) },
      );
      expect((await runs.get({ tenant: "acme", id: "d4" }))?.params).toEqual({ n: 3 });
      expect((await runs.dueToStart(at(5_000), 10)).map((ref) => ref.id)).toContain("d4");
      expect((await runs.dueToStart(at(4_999), 10)).map((ref) => ref.id)).not.toContain("d4");
    });

    it("promotes a waiting run into a slot in one step, once", async () => {
      await runs.create(aRun("w1", "waiting"), { counters: [join()] });
      const promote = () =>
        runs.transition(
          { tenant: "acme", id: "w1" },
          { status: "waiting", attempts: 0 },
          promotedPatch(new Date(T0)),
          [
            {
              definition: "limited",
              running: 1,
              waiting: -1,
              require: { runningBelow: 1 },
              at: at(1),
            },
          ],
        );
      const [first, second] = await Promise.all([promote(), promote()]);
      expect([first.ok, second.ok].sort()).toEqual([false, true]);
      expect(await runs.get({ tenant: "acme", id: "w1" })).toMatchObject({ status: "queued", slot: true });
      expect(await counters.get("acme", "limited")).toMatchObject({ running: 1, waiting: 0 });
      expect(await runs.waiting("acme", "limited", 10)).toEqual([]);
      expect(await runs.countHolders("acme", "limited")).toEqual({ running: 1, waiting: 0 });
    });

    it("frees the slot with the run's end, and the slot index forgets it", async () => {
      const run = aRun("a", "queued");
      await runs.create(run, { counters: [take()] });
      await runs.claim(run, { now: at(1), leaseUntil: at(5_000) });
      const result = await runs.transition(
        run,
        { status: "running", attempts: 1 },
        { status: "succeeded", endedAt: at(2), sweepAt: null, leaseUntil: null },
        [{ definition: "limited", running: -1, at: at(2) }],
      );
      expect(result).toEqual({ ok: true });
      expect(await runs.get(run)).toMatchObject({ status: "succeeded" });
      expect(await counters.get("acme", "limited")).toMatchObject({ running: 0, waiting: 0, version: 2 });
      expect(await runs.countHolders("acme", "limited")).toEqual({ running: 0, waiting: 0 });
    });

    it("hands a slot from an ending run to a waiting one in one step, once, and names what refused", async () => {
      const holder = aRun("a", "queued");
      await runs.create(holder, { counters: [take()] });
      await runs.create(aRun("w1", "waiting", 1), { counters: [join()] });
      await runs.create(aRun("w2", "waiting", 2), { counters: [join()] });
      const ending = (id: string) => ({
        ref: { tenant: "acme", id },
        guard: { status: "queued" as const, attempts: 0 },
        patch: { status: "cancelled" as const, endedAt: at(3), sweepAt: null },
      });
      const next = (id: string) => ({
        ref: { tenant: "acme", id },
        guard: { status: "waiting" as const, attempts: 0, inTenantLine: false },
        patch: promotedPatch(new Date(T0 + 3)),
      });
      const handOver: CounterEffect = {
        definition: "limited",
        waiting: -1,
        require: { runningBelow: 2 },
        at: at(3),
      };
      // The limit was lowered to 0 meanwhile: the slot may not pass on, and nothing changes.
      expect(
        await runs.handOff(ending("a"), next("w1"), [{ ...handOver, require: { runningBelow: 1 } }]),
      ).toEqual({ ok: false, cause: "counter", definition: "limited" });
      expect(await runs.get(holder)).toMatchObject({ status: "queued", slot: true });
      // Two enders reach for the same waiting run: one gets it.
      const [first, second] = await Promise.all([
        runs.handOff(ending("a"), next("w1"), [handOver]),
        runs.handOff(ending("a"), next("w1"), [handOver]),
      ]);
      expect([first.ok, second.ok].sort()).toEqual([false, true]);
      expect(await runs.get(holder)).toMatchObject({ status: "cancelled" });
      expect(await runs.get({ tenant: "acme", id: "w1" })).toMatchObject({ status: "queued", slot: true });
      expect(await counters.get("acme", "limited")).toMatchObject({ running: 1, waiting: 1 });
      expect(await runs.countHolders("acme", "limited")).toEqual({ running: 1, waiting: 1 });
      expect((await runs.waiting("acme", "limited", 10)).map((r) => r.id)).toEqual(["w2"]);
      // The ending run already ended; the next one already moved on.
      expect(await runs.handOff(ending("a"), next("w2"), [handOver])).toEqual({ ok: false, cause: "run" });
      expect(await runs.handOff(ending("w1"), next("a"), [handOver])).toEqual({ ok: false, cause: "next" });
      expect(await counters.get("acme", "limited")).toMatchObject({ running: 1, waiting: 1 });
      expect(await runs.get({ tenant: "acme", id: "w2" })).toMatchObject({ status: "waiting" });
    });

    it("tells a refused run write from a refused counter, and changes neither", async () => {
      const run = aRun("a", "queued");
      await runs.create(run, { counters: [take()] });
      const wrongGuard = await runs.transition(
        run,
        { status: "running", attempts: 1 },
        { status: "succeeded" },
        [{ definition: "limited", running: -1, at: at(2) }],
      );
      expect(wrongGuard).toMatchObject({ ok: false, cause: "run", current: { status: "queued" } });
      expect(await counters.get("acme", "limited")).toMatchObject({ running: 1 });
    });

    it("records an idempotency key with the run, and hands back the earlier record", async () => {
      const record = {
        tenant: "acme",
        key: "order-7",
        runId: "a",
        requestHash: "h1",
        expiresAt: T0 / 1000 + 86_400,
      };
      expect(await runs.create(aRun("a", "queued"), { idempotency: record })).toEqual({ ok: true });
      const again = await runs.create(aRun("b", "queued"), { idempotency: { ...record, runId: "b" } });
      expect(again).toEqual({ ok: false, cause: "idempotency", existing: record });
      expect(await runs.get({ tenant: "acme", id: "b" })).toBeUndefined();
      expect(await runs.getIdempotency("acme", "order-7")).toEqual(record);
      expect(await runs.getIdempotency("globex", "order-7")).toBeUndefined();
    });

    it("lets an expired idempotency key be used again", async () => {
      const old = { tenant: "acme", key: "k", runId: "a", requestHash: "h", expiresAt: T0 / 1000 - 1 };
      await runs.create(aRun("a", "queued"), { idempotency: old });
      const fresh = { ...old, runId: "b", expiresAt: T0 / 1000 + 86_400 };
      expect(await runs.create(aRun("b", "queued"), { idempotency: fresh })).toEqual({ ok: true });
    });

    it("finds unfinished runs due for the sweeper, across tenants, and only those", async () => {
      await runs.create(aRun("due", "queued")); // sweepAt = created + 15 min
      const later = aRun("later", "queued", 10 * 60_000);
      await runs.create(later);
      await runs.create(aRun("waits", "waiting"));
      const due = await runs.dueForSweep(at(16 * 60_000), 10);
      expect(due).toEqual([{ tenant: "acme", id: "due" }]);
      // A finished run leaves the index.
      await runs.claim({ tenant: "acme", id: "due" }, { now: at(1), leaseUntil: at(2) });
      await runs.update(
        { tenant: "acme", id: "due" },
        { status: "running", attempts: 1 },
        {
          status: "failed",
          sweepAt: null,
        },
      );
      expect(await runs.dueForSweep(at(60 * 60_000), 10)).toEqual([{ tenant: "acme", id: "later" }]);
    });

    it("writes a run with its tenant's and its definition's counters together, and names the item that refused", async () => {
      const both = () => [tenantTake(), take()];
      const held = { ...aRun("a", "queued"), tenantSlot: true };
      expect(await runs.create(held, { counters: both() })).toEqual({ ok: true });
      // The tenant's item is listed first, so it is the one named when it refuses.
      expect(await runs.create({ ...aRun("b", "queued"), tenantSlot: true }, { counters: both() })).toEqual({
        ok: false,
        cause: "counter",
        definition: TENANT_SCOPE,
      });
      expect(await runs.get({ tenant: "acme", id: "b" })).toBeUndefined();
      expect(await counters.get("acme", TENANT_SCOPE)).toMatchObject({ running: 1, waiting: 0, version: 1 });
      expect(await counters.get("acme", "limited")).toMatchObject({ running: 1, waiting: 0, version: 1 });
      expect(await runs.countHolders("acme", TENANT_SCOPE)).toEqual({ running: 1, waiting: 0 });
      expect(await runs.countHolders("acme", "limited")).toEqual({ running: 1, waiting: 0 });

      // The end gives both slots back in one step; both slot indexes forget the run.
      await runs.claim(held, { now: at(1), leaseUntil: at(5_000) });
      const ended = await runs.transition(
        held,
        { status: "running", attempts: 1 },
        { status: "succeeded", endedAt: at(2), sweepAt: null, leaseUntil: null },
        [
          { definition: "limited", running: -1, at: at(2) },
          { definition: TENANT_SCOPE, running: -1, at: at(2) },
        ],
      );
      expect(ended).toEqual({ ok: true });
      expect(await counters.get("acme", TENANT_SCOPE)).toMatchObject({ running: 0, version: 2 });
      expect(await runs.countHolders("acme", TENANT_SCOPE)).toEqual({ running: 0, waiting: 0 });
      expect(await runs.countHolders("acme", "limited")).toEqual({ running: 0, waiting: 0 });
    });

    it("keeps the tenant's line apart from its definitions' lines, and moves a run between them once", async () => {
      const inTenantLine = { ...aRun("t1", "waiting", 1), tenantLine: true };
      await runs.create(inTenantLine, { counters: [tenantJoin()] });
      await runs.create(aRun("d1", "waiting", 2), { counters: [join()] });
      expect((await runs.waiting("acme", TENANT_SCOPE, 10)).map((r) => r.id)).toEqual(["t1"]);
      expect((await runs.waiting("acme", "limited", 10)).map((r) => r.id)).toEqual(["d1"]);
      expect(await runs.countHolders("acme", TENANT_SCOPE)).toEqual({ running: 0, waiting: 1 });
      expect(await runs.countHolders("acme", "limited")).toEqual({ running: 0, waiting: 1 });

      const toDefinitionLine = () =>
        runs.transition(
          inTenantLine,
          { status: "waiting", attempts: 0, inTenantLine: true },
          changeLinePatch("definition", new Date(T0 + 5)),
          [
            { definition: TENANT_SCOPE, waiting: -1, at: at(5) },
            { definition: "limited", waiting: 1, at: at(5) },
          ],
        );
      const [first, second] = await Promise.all([toDefinitionLine(), toDefinitionLine()]);
      expect([first.ok, second.ok].sort()).toEqual([false, true]);
      // Its place in the definition's line is by start time: ahead of d1, started after it.
      expect((await runs.waiting("acme", "limited", 10)).map((r) => r.id)).toEqual(["t1", "d1"]);
      expect(await runs.waiting("acme", TENANT_SCOPE, 10)).toEqual([]);
      expect(await counters.get("acme", TENANT_SCOPE)).toMatchObject({ running: 0, waiting: 0 });
      expect(await counters.get("acme", "limited")).toMatchObject({ running: 0, waiting: 2 });
      expect((await runs.get(inTenantLine))?.tenantLine).toBeUndefined();

      // A write that expects it in the tenant's line (a stale cancel, a stale promotion) now misses.
      const stale = await runs.transition(
        inTenantLine,
        { status: "waiting", attempts: 0, inTenantLine: true },
        { status: "cancelled", endedAt: at(6) },
        [{ definition: TENANT_SCOPE, waiting: -1, at: at(6) }],
      );
      expect(stale).toMatchObject({ ok: false, cause: "run" });
      expect(await counters.get("acme", TENANT_SCOPE)).toMatchObject({ waiting: 0 });

      // And back into the tenant's line.
      const back = await runs.transition(
        inTenantLine,
        { status: "waiting", attempts: 0, inTenantLine: false },
        changeLinePatch("tenant", new Date(T0 + 7)),
        [
          { definition: "limited", waiting: -1, at: at(7) },
          { definition: TENANT_SCOPE, waiting: 1, at: at(7) },
        ],
      );
      expect(back).toEqual({ ok: true });
      expect((await runs.waiting("acme", TENANT_SCOPE, 10)).map((r) => r.id)).toEqual(["t1"]);
      expect((await runs.waiting("acme", "limited", 10)).map((r) => r.id)).toEqual(["d1"]);
      expect(await runs.countHolders("acme", TENANT_SCOPE)).toEqual({ running: 0, waiting: 1 });
    });

    it("promotes a run from the tenant's line into a tenant slot in one step, once", async () => {
      const waiting = { ...aRun("t1", "waiting"), tenantLine: true };
      await runs.create(waiting, { counters: [tenantJoin()] });
      const promote = () =>
        runs.transition(
          waiting,
          { status: "waiting", attempts: 0, inTenantLine: true },
          promotedPatch(new Date(T0 + 1), { slot: false, tenantSlot: true }),
          [{ definition: TENANT_SCOPE, running: 1, waiting: -1, require: { runningBelow: 1 }, at: at(1) }],
        );
      const [first, second] = await Promise.all([promote(), promote()]);
      expect([first.ok, second.ok].sort()).toEqual([false, true]);
      const promoted = await runs.get(waiting);
      expect(promoted).toMatchObject({ status: "queued", tenantSlot: true });
      expect(promoted?.tenantLine).toBeUndefined();
      expect(promoted?.slot).toBeUndefined();
      expect(await runs.waiting("acme", TENANT_SCOPE, 10)).toEqual([]);
      expect(await runs.countHolders("acme", TENANT_SCOPE)).toEqual({ running: 1, waiting: 0 });
      expect(await counters.get("acme", TENANT_SCOPE)).toMatchObject({ running: 1, waiting: 0 });
    });

    it("keeps each counter shard's line and slots apart, and moves a waiting run between shards once", async () => {
      const inShard = (run: Run, shard: number): Run => ({ ...run, shard });
      const joinShard = (scope: string): CounterEffect => ({ definition: scope, waiting: 1, at: at(0) });
      await runs.create(inShard(aRun("s1", "waiting", 1), 1), { counters: [joinShard("limited#1")] });
      await runs.create(aRun("s0", "waiting", 2), { counters: [joinShard("limited")] });
      expect((await runs.waiting("acme", "limited#1", 10)).map((r) => r.id)).toEqual(["s1"]);
      expect((await runs.waiting("acme", "limited", 10)).map((r) => r.id)).toEqual(["s0"]);
      // Promotion in shard 1: guarded on the shard, counted in the shard's item and slot index.
      const promote = (shard: number) =>
        runs.transition(
          { tenant: "acme", id: "s1" },
          { status: "waiting", attempts: 0, inTenantLine: false, shard },
          promotedPatch(new Date(T0)),
          [{ definition: "limited#1", running: 1, waiting: -1, require: { runningBelow: 1 }, at: at(1) }],
        );
      expect(await promote(0)).toMatchObject({ ok: false, cause: "run" });
      expect(await promote(1)).toEqual({ ok: true });
      expect(await runs.countHolders("acme", "limited#1")).toEqual({ running: 1, waiting: 0 });
      expect(await runs.countHolders("acme", "limited")).toEqual({ running: 0, waiting: 1 });
      expect(await counters.get("acme", "limited#1")).toMatchObject({ running: 1, waiting: 0 });
      // A waiting run moves from shard 0 to shard 2 (its definition named, for the shard's keys).
      const move = () =>
        runs.transition(
          { tenant: "acme", id: "s0", definition: "limited" },
          { status: "waiting", attempts: 0, inTenantLine: false, shard: 0 },
          { shard: 2, updatedAt: at(3) },
          [
            { definition: "limited", waiting: -1, at: at(3) },
            { definition: "limited#2", waiting: 1, at: at(3) },
          ],
        );
      const [first, second] = await Promise.all([move(), move()]);
      expect([first.ok, second.ok].sort()).toEqual([false, true]);
      expect(await runs.get({ tenant: "acme", id: "s0" })).toMatchObject({ status: "waiting", shard: 2 });
      expect(await runs.waiting("acme", "limited", 10)).toEqual([]);
      expect((await runs.waiting("acme", "limited#2", 10)).map((r) => r.id)).toEqual(["s0"]);
      expect(await runs.countHolders("acme", "limited#2")).toEqual({ running: 0, waiting: 1 });
      expect(await counters.get("acme", "limited")).toMatchObject({ waiting: 0 });
      // Promoted in its new shard, it holds that shard's slot.
      await runs.transition(
        { tenant: "acme", id: "s0" },
        { status: "waiting", attempts: 0, inTenantLine: false, shard: 2 },
        promotedPatch(new Date(T0)),
        [{ definition: "limited#2", running: 1, waiting: -1, at: at(4) }],
      );
      expect(await runs.countHolders("acme", "limited#2")).toEqual({ running: 1, waiting: 0 });
      expect(await runs.countHolders("acme", "limited")).toEqual({ running: 0, waiting: 0 });
    });

    it("repairs counters only if nothing changed them since they were read", async () => {
      await runs.create(aRun("a", "queued"), { counters: [take()] });
      const read = await counters.get("acme", "limited");
      if (read === undefined) throw new Error("no counters");
      expect(await counters.repair(read, { running: 5, waiting: 0, at: at(9) })).toBe(true);
      expect(await counters.repair(read, { running: 7, waiting: 0, at: at(9) })).toBe(false);
      expect(await counters.get("acme", "limited")).toMatchObject({ running: 5, version: 2 });
      const page = await counters.list();
      expect(page.items.map((c) => `${c.tenant}/${c.definition}`)).toContain("acme/limited");
    });
  });
}
