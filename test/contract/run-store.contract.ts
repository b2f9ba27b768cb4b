/** What every RunStore must do. Run against each adapter (see aws-adapters.test.ts). */
import { beforeEach, describe, expect, it } from "vitest";
import { LIST_SHARDS, listShardOf } from "../../shared/aws/run-keys.ts";
import { ConflictError, ItemTooLargeError, ValidationError } from "../../shared/core/errors.ts";
import { newRun } from "../../shared/core/lifecycle.ts";
import type { RunListQuery, RunStore } from "../../shared/core/ports.ts";
import type { Run } from "../../shared/core/run.ts";

const T0 = Date.parse("2026-01-01T00:00:00.000Z");
const at = (ms: number) => new Date(T0 + ms).toISOString();

function aRun(id: string, overrides: Partial<Run> = {}, tenant = "acme", definition = "report"): Run {
  return {
    ...newRun(
      {
        tenant,
        id,
        definition: {
          tenant,
          name: definition,
          handler: "echo",
          params: {},
          maxAttempts: 2,
          timeoutSeconds: 60,
          createdAt: "",
          updatedAt: "",
        },
        params: { n: 1 },
        createdBy: "key1",
      },
      "queued",
      new Date(T0),
    ),
    ...overrides,
  };
}

/**
 * `claimCheck`: the store keeps params and output above CLAIM_CHECK_BYTES in S3 (DynamoRunStore
 * with a payload store), so DynamoDB's item limit no longer bounds them.
 */
export function runStoreContract(
  name: string,
  makeStore: () => Promise<RunStore>,
  options: { claimCheck?: boolean } = {},
): void {
  describe(`RunStore contract: ${name}`, () => {
    let store: RunStore;
    beforeEach(async () => {
      store = await makeStore();
    });

    it("stores and reads back a run exactly", async () => {
      const run = aRun("r1", { queue: "q1" });
      await store.create(run);
      expect(await store.get(run)).toEqual(run);
      expect(await store.get({ tenant: "other", id: "r1" })).toBeUndefined();
    });

    if (options.claimCheck === true) {
      it("keeps params and output past DynamoDB's 400 KB item limit in S3, and reads them back", async () => {
        const params = { blob: "x".repeat(410 * 1024) };
        const run = aRun("r1", { params });
        await store.create(run);
        await store.claim(run, { now: at(0), leaseUntil: at(1_000) });
        const guard = { status: "running", attempts: 1 } as const;
        const output = { blob: "y".repeat(900 * 1024) };
        // A write its guard refuses changes nothing: the run still points to what it had.
        const refused = await store.update(run, { status: "queued", attempts: 0 }, { output: { no: 1 } });
        expect(refused).toBeUndefined();
        expect(await store.update(run, guard, { feedback: "done", output })).toMatchObject({
          params,
          output,
        });
        expect(await store.get(run)).toMatchObject({ params, output, feedback: "done" });
        // A list reads the run's small item only: its bulky fields are left out.
        const [listed] = (await store.list({ tenant: "acme", limit: 5 })).items;
        expect(listed).toMatchObject({ id: run.id, feedback: "done" });
        expect(listed).not.toHaveProperty("params");
        expect(listed).not.toHaveProperty("output");
      });
    } else {
      it("refuses a run past DynamoDB's 400 KB item limit with ItemTooLargeError, writing nothing", async () => {
        const run = aRun("r1", { params: { blob: "x".repeat(410 * 1024) } });
        await expect(store.create(run)).rejects.toBeInstanceOf(ItemTooLargeError);
        expect(await store.get(run)).toBeUndefined();
      });

      it("refuses a write that would take one item past 400 KB, and leaves the run as it was", async () => {
        const run = aRun("r1", { params: { blob: "x".repeat(300 * 1024) } });
        await store.create(run);
        await store.claim(run, { now: at(0), leaseUntil: at(1_000) });
        const before = await store.get(run);
        const guard = { status: "running", attempts: 1 } as const;
        const write = store.update(run, guard, {
          feedback: "done",
          output: { blob: "y".repeat(410 * 1024) },
          status: "succeeded",
        });
        await expect(write).rejects.toBeInstanceOf(ItemTooLargeError);
        expect(await store.get(run)).toEqual(before);
      });
    }

    it("keeps bulky params, output and logs beside the run, each up to the item limit, and reads them back on every path", async () => {
      const params = { blob: "p".repeat(300 * 1024) };
      const run = aRun("big", { params, createdAt: at(5) });
      await store.create(run);
      await store.create(aRun("small", { createdAt: at(6) }));
      const claimed = await store.claim(run, { now: at(1), leaseUntil: at(10_000) });
      expect(claimed.claimed && claimed.run.params).toEqual(params);
      const guard = { status: "running", attempts: 1 } as const;
      // Feedback (in the run's item) beside 300 KB of params, 200 KB of logs and 300 KB of output:
      // together far past 400 KB, each within it.
      const logs = [{ at: at(2), line: "l".repeat(200 * 1024) }];
      const heartbeat = await store.update(run, guard, { feedback: "half way", progress: 0.5, logs });
      expect(heartbeat).toMatchObject({ params, logs, feedback: "half way", progress: 0.5 });
      const output = { blob: "o".repeat(300 * 1024) };
      const refused = await store.transition(run, { status: "queued", attempts: 1 }, { status: "succeeded" });
      expect(refused).toMatchObject({ ok: false, cause: "run" });
      expect(await store.transition(run, guard, { status: "succeeded", output, endedAt: at(3) })).toEqual({
        ok: true,
      });
      const ended = await store.get(run);
      expect(ended).toMatchObject({ status: "succeeded", params, output, logs, feedback: "half way" });
      expect(
        (await store.list({ tenant: "acme", limit: 5 })).items.map((r) => [r.id, r.status, "params" in r]),
      ).toEqual([
        ["small", "queued", false],
        ["big", "succeeded", false],
      ]);
      // A small output replaces a bulky one.
      const again = aRun("again", { params });
      await store.create(again);
      await store.claim(again, { now: at(1), leaseUntil: at(10_000) });
      await store.update(again, guard, { output });
      expect(await store.update(again, guard, { output: { small: true } })).toMatchObject({
        params,
        output: { small: true },
      });
      expect((await store.get(again))?.output).toEqual({ small: true });
    });

    it("keeps any JSON in params, output and once results, even what DynamoDB maps cannot hold", async () => {
      let deep: unknown = "bottom";
      for (let i = 0; i < 40; i += 1) deep = { next: deep };
      const awkward = {
        "": "empty key",
        deep,
        huge: 1e300,
        tiny: 1e-300,
        precise: 0.1 + 0.2,
        list: [[[]]],
        nothing: null,
      };
      const run = aRun("r1", { params: awkward });
      await store.create(run);
      expect((await store.get(run))?.params).toEqual(awkward);
      await store.claim(run, { now: at(0), leaseUntil: at(1_000) });
      const guard = { status: "running", attempts: 1 } as const;
      await store.update(run, guard, {
        once: { key: "k", record: { attempt: 1, at: at(1), result: awkward } },
      });
      const ended = await store.update(run, guard, { status: "succeeded", output: awkward });
      expect(ended?.output).toEqual(awkward);
      expect((await store.get(run))?.once.k?.result).toEqual(awkward);
    });

    it("refuses a second run with the same id", async () => {
      await store.create(aRun("r1"));
      await expect(store.create(aRun("r1"))).rejects.toBeInstanceOf(ConflictError);
    });

    it("lets exactly one of two claims take a queued run", async () => {
      const run = aRun("r1");
      await store.create(run);
      const claims = await Promise.all([
        store.claim(run, { now: at(1), leaseUntil: at(10_000) }),
        store.claim(run, { now: at(1), leaseUntil: at(10_000) }),
      ]);
      const winners = claims.filter((c) => c.claimed);
      expect(winners).toHaveLength(1);
      const winner = winners[0];
      if (!winner?.claimed) throw new Error("no winner");
      expect(winner.run).toMatchObject({
        status: "running",
        attempts: 1,
        leaseUntil: at(10_000),
        startedAt: at(1),
      });
      const loser = claims.find((c) => !c.claimed);
      expect(loser).toMatchObject({ claimed: false, current: { status: "running", attempts: 1 } });
    });

    it("does not claim a retry before its backoff is over", async () => {
      const run = aRun("r1", { nextAttemptAt: at(5_000) });
      await store.create(run);
      expect((await store.claim(run, { now: at(4_999), leaseUntil: at(9_000) })).claimed).toBe(false);
      const due = await store.claim(run, { now: at(5_000), leaseUntil: at(9_000) });
      expect(due.claimed).toBe(true);
      expect(due.claimed && due.run.nextAttemptAt).toBeUndefined();
    });

    it("re-claims a run whose lease ran out while attempts are left, and only then", async () => {
      const run = aRun("r1");
      await store.create(run);
      await store.claim(run, { now: at(0), leaseUntil: at(1_000) });
      expect((await store.claim(run, { now: at(999), leaseUntil: at(2_000) })).claimed).toBe(false);
      const second = await store.claim(run, { now: at(1_001), leaseUntil: at(3_000) });
      expect(second).toMatchObject({ claimed: true, run: { attempts: 2, startedAt: at(0) } });
      // maxAttempts is 2: a third claim after the lease runs out again must fail.
      const third = await store.claim(run, { now: at(5_000), leaseUntil: at(6_000) });
      expect(third).toMatchObject({ claimed: false, current: { status: "running", attempts: 2 } });
    });

    it("reports a missing run as not claimed with nothing current", async () => {
      expect(await store.claim({ tenant: "acme", id: "nope" }, { now: at(0), leaseUntil: at(1) })).toEqual({
        claimed: false,
        current: undefined,
      });
    });

    it("applies an update only when status and attempt match, and removes null fields", async () => {
      const run = aRun("r1");
      await store.create(run);
      await store.claim(run, { now: at(0), leaseUntil: at(1_000) });
      expect(await store.update(run, { status: "running", attempts: 2 }, { progress: 0.5 })).toBeUndefined();
      expect(await store.update(run, { status: "queued", attempts: 1 }, { progress: 0.5 })).toBeUndefined();
      const updated = await store.update(
        run,
        { status: "running", attempts: 1 },
        { status: "succeeded", output: { ok: true }, leaseUntil: null, endedAt: at(2) },
      );
      expect(updated).toMatchObject({ status: "succeeded", output: { ok: true }, endedAt: at(2) });
      expect(updated?.leaseUntil).toBeUndefined();
      expect(
        await store.update(run, { status: "running", attempts: 1 }, { status: "failed" }),
      ).toBeUndefined();
      expect((await store.get(run))?.status).toBe("succeeded");
    });

    it("can require the exact lease it saw", async () => {
      const run = aRun("r1");
      await store.create(run);
      await store.claim(run, { now: at(0), leaseUntil: at(1_000) });
      const guard = { status: "running", attempts: 1 } as const;
      expect(
        await store.update(run, { ...guard, leaseUntil: at(999) }, { status: "failed" }),
      ).toBeUndefined();
      expect(
        await store.update(run, { ...guard, leaseUntil: at(1_000) }, { status: "failed" }),
      ).toMatchObject({
        status: "failed",
      });
    });

    it("can require the run unchanged since it was read, and that nobody asked to cancel it", async () => {
      const run = aRun("r1");
      await store.create(run);
      await store.claim(run, { now: at(0), leaseUntil: at(1_000) });
      const read = await store.get(run);
      const guard = { status: "running", attempts: 1 } as const;
      const fresh = { ...guard, updatedAt: read?.updatedAt ?? "" };
      expect(await store.update(run, fresh, { progress: 0.1, updatedAt: at(5) })).toMatchObject({
        progress: 0.1,
      });
      // The same read again is stale now.
      expect(await store.update(run, fresh, { progress: 0.2 })).toBeUndefined();
      await store.update(run, guard, { cancelRequestedAt: at(6) });
      expect(
        await store.update(run, { ...guard, notCancelRequested: true }, { progress: 0.3 }),
      ).toBeUndefined();
      expect((await store.get(run))?.progress).toBe(0.1);
    });

    it("does not re-claim a run that was asked to cancel, even when its lease ran out", async () => {
      const run = aRun("r1");
      await store.create(run);
      await store.claim(run, { now: at(0), leaseUntil: at(1_000) });
      await store.update(run, { status: "running", attempts: 1 }, { cancelRequestedAt: at(500) });
      const again = await store.claim(run, { now: at(2_000), leaseUntil: at(3_000) });
      expect(again).toMatchObject({ claimed: false, current: { attempts: 1, cancelRequestedAt: at(500) } });
    });

    it("sets one once-record without touching the others", async () => {
      const run = aRun("r1");
      await store.create(run);
      await store.claim(run, { now: at(0), leaseUntil: at(1_000) });
      const guard = { status: "running", attempts: 1 } as const;
      await store.update(run, guard, {
        once: { key: "a", record: { attempt: 1, at: at(1), result: { id: 1 } } },
      });
      await store.update(run, guard, {
        once: { key: "b.c", record: { attempt: 1, at: at(2), result: null } },
      });
      expect((await store.get(run))?.once).toEqual({
        a: { attempt: 1, at: at(1), result: { id: 1 } },
        "b.c": { attempt: 1, at: at(2), result: null },
      });
    });

    it("lists newest first, page by page, within one tenant", async () => {
      for (let i = 0; i < 5; i += 1) {
        await store.create(aRun(`r${i}`, { createdAt: at(i * 1000) }));
      }
      await store.create(aRun("foreign", { createdAt: at(9_000) }, "globex"));
      const first = await store.list({ tenant: "acme", limit: 2 });
      expect(first.items.map((r) => r.id)).toEqual(["r4", "r3"]);
      expect(first.cursor).toBeDefined();
      const second = await store.list({ tenant: "acme", limit: 2, cursor: first.cursor ?? "" });
      expect(second.items.map((r) => r.id)).toEqual(["r2", "r1"]);
      const third = await store.list({ tenant: "acme", limit: 2, cursor: second.cursor ?? "" });
      expect(third.items.map((r) => r.id)).toEqual(["r0"]);
      expect(third.cursor).toBeUndefined();
    });

    it("filters by status, by definition, and by both", async () => {
      await store.create(aRun("a", { createdAt: at(1) }, "acme", "alpha"));
      await store.create(aRun("b", { createdAt: at(2) }, "acme", "beta"));
      await store.create(aRun("c", { createdAt: at(3) }, "acme", "alpha"));
      await store.claim({ tenant: "acme", id: "c" }, { now: at(4), leaseUntil: at(9_000) });
      const ids = async (query: { status?: "queued" | "running"; definition?: string }) =>
        (await store.list({ tenant: "acme", limit: 10, ...query })).items.map((r) => r.id);
      expect(await ids({ status: "queued" })).toEqual(["b", "a"]);
      expect(await ids({ status: "running" })).toEqual(["c"]);
      expect(await ids({ definition: "alpha" })).toEqual(["c", "a"]);
      expect(await ids({ status: "queued", definition: "alpha" })).toEqual(["a"]);
    });

    it("bounds a listing by creation time (createdAfter inclusive, createdBefore exclusive), page by page", async () => {
      for (let i = 0; i < 8; i += 1) {
        await store.create(aRun(`t${i}`, { createdAt: at(i * 1000) }, "acme", i % 2 === 0 ? "even" : "odd"));
      }
      const ids = async (query: { createdAfter?: string; createdBefore?: string; definition?: string }) => {
        const seen: string[] = [];
        let cursor: string | undefined;
        do {
          const page = await store.list({
            tenant: "acme",
            limit: 2,
            ...query,
            ...(cursor ? { cursor } : {}),
          });
          seen.push(...page.items.map((r) => r.id));
          cursor = page.cursor;
        } while (cursor !== undefined);
        return seen;
      };
      expect(await ids({ createdAfter: at(2000) })).toEqual(["t7", "t6", "t5", "t4", "t3", "t2"]);
      expect(await ids({ createdBefore: at(3000) })).toEqual(["t2", "t1", "t0"]);
      expect(await ids({ createdAfter: at(2000), createdBefore: at(6000) })).toEqual([
        "t5",
        "t4",
        "t3",
        "t2",
      ]);
      expect(await ids({ createdAfter: at(1000), createdBefore: at(6000), definition: "odd" })).toEqual([
        "t5",
        "t3",
        "t1",
      ]);
    });

    it("lists ended runs by status, and pages a status through runs of other statuses", async () => {
      for (let i = 0; i < 6; i += 1) {
        await store.create(aRun(`q${i}`, { createdAt: at(i * 10) }, "acme", i % 2 === 0 ? "alpha" : "beta"));
      }
      const end = async (id: string, status: "succeeded" | "failed") => {
        const ref = { tenant: "acme", id };
        await store.claim(ref, { now: at(100), leaseUntil: at(9_000) });
        expect(
          await store.update(ref, { status: "running", attempts: 1 }, { status, endedAt: at(200) }),
        ).toBeDefined();
      };
      await end("q0", "succeeded");
      await end("q1", "failed");
      await end("q4", "succeeded");
      await store.claim({ tenant: "acme", id: "q2" }, { now: at(100), leaseUntil: at(9_000) });
      const ids = async (query: Omit<RunListQuery, "tenant" | "limit">, limit = 10) =>
        (await store.list({ tenant: "acme", limit, ...query })).items.map((r) => r.id);
      expect(await ids({ status: "succeeded" })).toEqual(["q4", "q0"]);
      expect(await ids({ status: "succeeded", definition: "alpha" })).toEqual(["q4", "q0"]);
      expect(await ids({ status: "failed" })).toEqual(["q1"]);
      expect(await ids({ status: "running" })).toEqual(["q2"]);
      expect(await ids({ status: "queued" })).toEqual(["q5", "q3"]);
      // One at a time: each page skips the runs of other statuses in between.
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.list({
          tenant: "acme",
          limit: 1,
          status: "queued",
          ...(cursor ? { cursor } : {}),
        });
        seen.push(...page.items.map((r) => r.id));
        cursor = page.cursor;
      } while (cursor !== undefined);
      expect(seen).toEqual(["q5", "q3"]);
    });

    it("merges every listing shard newest first, page by page, under every filter", async () => {
      const runs: Run[] = [];
      for (let i = 0; i < 36; i += 1) {
        // Pairs share a creation time: the id orders them, in every shard.
        const run = aRun(
          `m${String(i).padStart(2, "0")}`,
          { createdAt: at(Math.floor(i / 2) * 10) },
          "acme",
          i % 3 === 0 ? "alpha" : "beta",
        );
        await store.create(run);
        runs.push(run);
      }
      await store.create(aRun("foreign", { createdAt: at(5) }, "globex", "alpha"));
      expect(new Set(runs.map((run) => listShardOf(run.id))).size).toBeGreaterThan(LIST_SHARDS / 2);
      const statusOf = new Map<string, Run["status"]>(runs.map((run) => [run.id, "queued"]));
      for (const [i, run] of runs.entries()) {
        if (i % 4 === 0) continue;
        await store.claim(run, { now: at(1_000), leaseUntil: at(9_000) });
        statusOf.set(run.id, "running");
        if (i % 4 === 1) continue;
        const ended = i % 4 === 2 ? "succeeded" : "failed";
        await store.update(run, { status: "running", attempts: 1 }, { status: ended, endedAt: at(2_000) });
        statusOf.set(run.id, ended);
      }
      const newestFirst = [...runs].sort((a, b) =>
        a.createdAt === b.createdAt ? (a.id < b.id ? 1 : -1) : a.createdAt < b.createdAt ? 1 : -1,
      );
      const queries: Array<Omit<RunListQuery, "tenant" | "limit">> = [
        {},
        { definition: "alpha" },
        { status: "queued" },
        { status: "running" },
        { status: "succeeded" },
        { status: "failed" },
        { status: "cancelled" },
        { status: "running", definition: "beta" },
        { status: "succeeded", definition: "alpha" },
      ];
      for (const query of queries) {
        const expected = newestFirst
          .filter((run) => query.status === undefined || statusOf.get(run.id) === query.status)
          .filter((run) => query.definition === undefined || run.definition === query.definition)
          .map((run) => run.id);
        for (const limit of [1, 5]) {
          const seen: string[] = [];
          let cursor: string | undefined;
          let pages = 0;
          do {
            const page = await store.list({ tenant: "acme", limit, ...query, ...(cursor ? { cursor } : {}) });
            expect(page.items.length).toBeLessThanOrEqual(limit);
            seen.push(...page.items.map((run) => run.id));
            cursor = page.cursor;
            pages += 1;
          } while (cursor !== undefined && pages < 100);
          expect({ query, limit, seen }).toEqual({ query, limit, seen: expected });
        }
      }
    });

    it("rejects a cursor it did not make", async () => {
      await expect(store.list({ tenant: "acme", limit: 2, cursor: "not-a-cursor" })).rejects.toBeInstanceOf(
        ValidationError,
      );
    });

    it("lists the runs a run started, in any tenant, oldest first and paged, and no one else's", async () => {
      const origin = (taskId: string, tenant = "acme", via = "task:1") => ({ taskId, tenant, via });
      const child = (id: string, ms: number, tenant = "acme", from = "parent") =>
        aRun(
          id,
          { createdAt: at(ms), trigger: "chain", origin: origin(from, "acme", `chain:${id}`) },
          tenant,
        );
      await store.create(aRun("parent"));
      await store.create(child("c2", 2_000));
      await store.create(child("c1", 1_000, "globex"));
      await store.create(child("c3", 3_000));
      await store.create(child("other", 1_500, "acme", "someone-else"));
      // Same id, other tenant: the origin is the pair, not the id alone.
      await store.create(aRun("x", { createdAt: at(500), origin: origin("parent", "globex") }));

      const first = await store.startedBy({ tenant: "acme", id: "parent" }, { limit: 2 });
      expect(first.items).toEqual([
        {
          tenant: "globex",
          id: "c1",
          definition: "report",
          trigger: "chain",
          via: "chain:c1",
          createdAt: at(1_000),
        },
        {
          tenant: "acme",
          id: "c2",
          definition: "report",
          trigger: "chain",
          via: "chain:c2",
          createdAt: at(2_000),
        },
      ]);
      expect(first.cursor).toBeDefined();
      const second = await store.startedBy(
        { tenant: "acme", id: "parent" },
        { limit: 2, ...(first.cursor === undefined ? {} : { cursor: first.cursor }) },
      );
      expect(second.items.map((item) => item.id)).toEqual(["c3"]);
      expect(second.cursor).toBeUndefined();
      expect((await store.startedBy({ tenant: "acme", id: "c3" }, { limit: 10 })).items).toEqual([]);
      await expect(
        store.startedBy({ tenant: "acme", id: "parent" }, { limit: 2, cursor: "bogus" }),
      ).rejects.toBeInstanceOf(ValidationError);
    });

    it("lists a run's replays with what it started, and keeps attempt records only with the write that carries them", async () => {
      await store.create(aRun("original", { createdAt: at(0) }));
      await store.create(aRun("again", { createdAt: at(1_000), trigger: "replay", replayOf: "original" }));
      // Another tenant's run of the same id and its replay are not this original's.
      await store.create(
        aRun("else", { createdAt: at(2_000), trigger: "replay", replayOf: "original" }, "globex"),
      );
      expect((await store.startedBy({ tenant: "acme", id: "original" }, { limit: 10 })).items).toEqual([
        {
          tenant: "acme",
          id: "again",
          definition: "report",
          trigger: "replay",
          via: "replay",
          createdAt: at(1_000),
        },
      ]);

      const run = aRun("tried", { status: "running", attempts: 1, attemptStartedAt: at(10) });
      await store.create(run);
      const record = {
        attempt: 1,
        startedAt: at(10),
        endedAt: at(20),
        outcome: "failed" as const,
        error: {
          code: "handler_error" as const,
          name: "TypeError",
          message: "boom",
          stack: "TypeError: boom\n    at run (task.ts:1:1)",
        },
      };
      const guard = { status: "running" as const, attempts: 1 };
      // A write whose guard no longer holds leaves no record either.
      expect(
        await store.transition(run, { ...guard, attempts: 7 }, { status: "queued", failedAttempt: record }),
      ).toMatchObject({ ok: false });
      expect(await store.attemptRecords(run)).toEqual([]);
      expect(
        await store.transition(run, guard, {
          status: "queued",
          error: { code: "handler_error", message: "boom" },
          failedAttempt: record,
        }),
      ).toEqual({ ok: true });
      const second = {
        ...record,
        attempt: 2,
        outcome: "timed_out" as const,
        error: { code: "timed_out" as const, message: "slow" },
      };
      await store.update(run, { status: "queued", attempts: 1 }, { status: "running", attempts: 2 });
      await store.transition(
        run,
        { status: "running", attempts: 2 },
        { status: "failed", endedAt: at(30), failedAttempt: second },
      );
      expect(await store.attemptRecords(run)).toEqual([record, second]);
      // The records live beside the run: reading the run does not carry them.
      expect(await store.get(run)).not.toHaveProperty("failedAttempt");
      expect(await store.attemptRecords({ tenant: "globex", id: "tried" })).toEqual([]);
    });

    it("counts a tenant's runs since a time by definition and by each status, from the listing indexes", async () => {
      const none = { scheduled: {}, waiting: {}, queued: {}, running: {}, awaiting: {} };
      await store.create(aRun("old", { createdAt: at(0) }));
      await store.create(aRun("q1", { createdAt: at(5_000) }));
      await store.create(aRun("s1", { createdAt: at(6_000), status: "succeeded", endedAt: at(7_000) }));
      await store.create(
        aRun("s2", { createdAt: at(6_500), status: "succeeded", endedAt: at(7_000) }, "acme", "mail"),
      );
      await store.create(
        aRun("f1", { createdAt: at(7_000), status: "failed", endedAt: at(8_000) }, "acme", "mail"),
      );
      await store.create(aRun("c1", { createdAt: at(8_000), status: "cancelled", endedAt: at(9_000) }));
      await store.create(aRun("other", { createdAt: at(8_000) }, "globex"));
      const counts = await store.countSince("acme", at(1_000), 100);
      expect(counts).toEqual({
        total: { report: 3, mail: 2 },
        byStatus: {
          ...none,
          queued: { report: 1 },
          failed: { mail: 1 },
          cancelled: { report: 1 },
          timed_out: {},
        },
        complete: true,
      });
      // The unfinished statuses share one index group: each is still counted under its own.
      await store.create(aRun("sc1", { createdAt: at(9_000), status: "scheduled" }, "acme", "mail"));
      await store.create(aRun("w1", { createdAt: at(9_000), status: "waiting" }));
      await store.create(aRun("w2", { createdAt: at(9_100), status: "waiting" }, "acme", "mail"));
      await store.create(aRun("r1", { createdAt: at(9_200), status: "running", attempts: 1 }));
      await store.create(
        aRun("a1", { createdAt: at(9_300), status: "awaiting", attempts: 1 }, "acme", "mail"),
      );
      await store.create(
        aRun("t1", { createdAt: at(9_400), status: "timed_out", attempts: 1, endedAt: at(9_500) }),
      );
      // A move within the group rewrites no index entry: the count reads the status from the run.
      await store.update(aRun("q1"), { status: "queued", attempts: 0 }, { status: "running", attempts: 1 });
      expect(await store.countSince("acme", at(1_000), 100)).toEqual({
        total: { report: 6, mail: 5 },
        byStatus: {
          scheduled: { mail: 1 },
          waiting: { report: 1, mail: 1 },
          queued: {},
          running: { report: 2 },
          awaiting: { mail: 1 },
          failed: { mail: 1 },
          cancelled: { report: 1 },
          timed_out: { report: 1 },
        },
        complete: true,
      });
      // Another tenant's runs, in every status, are not counted, nor are they counted for it.
      expect(await store.countSince("globex", at(1_000), 100)).toEqual({
        total: { report: 1 },
        byStatus: { ...none, queued: { report: 1 }, failed: {}, cancelled: {}, timed_out: {} },
        complete: true,
      });
      // Past the per-shard bound the counts are lower bounds, and say so.
      const many = Array.from({ length: 3 * LIST_SHARDS }, (_, i) => `m${i}`);
      for (const id of many) await store.create(aRun(id, { createdAt: at(10_000) }, "busy"));
      const bounded = await store.countSince("busy", at(1_000), 1);
      // 48 runs over 16 shards: some shard holds more than one.
      expect(bounded.complete).toBe(false);
      expect(bounded.total.report ?? 0).toBeLessThanOrEqual(LIST_SHARDS);
    });

    it("counts a tree's runs up to the limit, concurrently, per tree, without touching the root run or its lists", async () => {
      const root = aRun("root");
      await store.create(root);
      const tree = { tenant: "acme", id: "root" };
      const counted = await Promise.all(Array.from({ length: 5 }, () => store.countTreeRun(tree, 3, at(0))));
      expect(counted.filter(Boolean)).toHaveLength(3);
      expect(await store.countTreeRun(tree, 3, at(1))).toBe(false);
      // A higher limit (the operator raised it) counts on from where the tree is.
      expect(await store.countTreeRun(tree, 4, at(2))).toBe(true);
      expect(await store.countTreeRun(tree, 4, at(3))).toBe(false);
      // Another tree, even with the same root id in another tenant, has its own count.
      expect(await store.countTreeRun({ tenant: "globex", id: "root" }, 1, at(4))).toBe(true);
      expect(await store.get(root)).toEqual(root);
      expect((await store.list({ tenant: "acme", limit: 10 })).items.map((run) => run.id)).toEqual(["root"]);
    });
  });
}
