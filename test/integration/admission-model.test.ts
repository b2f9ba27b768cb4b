/**
 * A model test of admission on DynamoDB Local: random sequences of start, claim, succeed, fail,
 * crash, cancel, timeout, clock jumps and sweeps over definitions with random limits, through
 * the real use cases and store. After every step: no more runs running (or holding slots) than
 * maxConcurrency, no more waiting than maxQueueLength, counters equal to what the runs say,
 * finished runs unchanged. At the end every accepted run finishes in exactly one terminal state.
 * Half the rounds shard the counters (one slot per shard, so 1-3 shards here): the limits hold
 * over all shards together, and each shard's counters equal what its runs say.
 * Starts carry random priorities: a run promoted from a line never passes as many runs ranked
 * above it (higher priority, or the same and started earlier) as its line has slots; with one
 * slot (every sharded round, and maxConcurrency 1) that is exactly (priority desc, start order).
 */
import fc from "fast-check";
import { afterAll, beforeAll, expect, it } from "vitest";
import { putDefinition } from "../../shared/app/definitions.ts";
import { endRun } from "../../shared/app/engine.ts";
import type { TenantPrincipal } from "../../shared/app/identity.ts";
import type { Services } from "../../shared/app/services.ts";
import { COUNTERS_QUIET_MS, sweep } from "../../shared/app/sweeper.ts";
import { cancelTask, startTask } from "../../shared/app/tasks.ts";
import { shardCount, shardScope } from "../../shared/core/admission-shards.ts";
import { ConflictError, QueueFullError } from "../../shared/core/errors.ts";
import { afterHandlerError, succeededEnding, timedOutEnding } from "../../shared/core/lifecycle.ts";
import { isTerminal, type Run } from "../../shared/core/run.ts";
import { startTestStack, type TestStack } from "../support/stack.ts";

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ runWorker: false });
});
afterAll(async () => {
  await stack?.stop();
});

const caller: TenantPrincipal = { kind: "tenant", tenant: "acme", role: "admin", keyId: "model" };
const LEASE_MS = 30_000;

type Op =
  | { op: "start"; def: number; priority: number | undefined }
  | { op: "claim" | "succeed" | "fail" | "crash" | "cancel" | "timeout"; pick: number }
  | { op: "advance"; ms: number }
  | { op: "sweep" };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant("start" as const),
      def: fc.nat(1),
      priority: fc.constantFrom(undefined, 0, 1, 5, 9),
    }),
  },
  {
    weight: 8,
    arbitrary: fc.record({
      op: fc.constantFrom("claim", "succeed", "fail", "crash", "cancel", "timeout"),
      pick: fc.nat(50),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant("advance" as const), ms: fc.integer({ min: 1, max: 60_000 }) }),
  },
  { weight: 1, arbitrary: fc.constant({ op: "sweep" as const }) },
);

const limitsArb = fc.record({
  maxConcurrency: fc.integer({ min: 1, max: 3 }),
  maxQueueLength: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
});

let round = 0;

it("keeps every admission invariant under random operations", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.tuple(limitsArb, limitsArb),
      fc.array(opArb, { minLength: 5, maxLength: 30 }),
      fc.boolean(),
      async (limits, ops, sharded) => {
        round += 1;
        let t = Date.now();
        const svc: Services = {
          ...stack.services,
          clock: { now: () => new Date(t) },
          random: () => 0.5,
          ...(sharded ? { admission: { slotsPerShard: 1 } } : {}),
        };
        const defs = limits.map((l, i) => ({ name: `model-${round}-${i}`, ...l }));
        for (const def of defs) {
          // Through svc, whose admission settings decide the shard count the definition gets.
          await putDefinition(svc, "acme", def.name, {
            handler: "echo",
            maxAttempts: 2,
            maxConcurrency: def.maxConcurrency,
            ...(def.maxQueueLength === undefined ? {} : { maxQueueLength: def.maxQueueLength }),
          });
        }
        const ids: string[] = [];
        const ended = new Map<string, string>();

        const runsOf = async (): Promise<Run[]> =>
          (await Promise.all(ids.map((id) => svc.runs.get({ tenant: "acme", id })))).filter(
            (r): r is Run => r !== undefined,
          );
        const pick = (runs: Run[], n: number, keep: (r: Run) => boolean) => {
          const candidates = runs.filter(keep);
          return candidates.length === 0 ? undefined : candidates[n % candidates.length];
        };

        const check = async (when: string) => {
          const runs = await runsOf();
          expect(runs).toHaveLength(ids.length);
          for (const run of runs) {
            const before = ended.get(run.id);
            if (before !== undefined)
              expect(run.status, `${when}: finished run ${run.id} changed`).toBe(before);
            if (isTerminal(run.status)) ended.set(run.id, run.status);
          }
          for (const def of defs) {
            const mine = runs.filter((r) => r.definition === def.name);
            const running = mine.filter((r) => r.status === "running").length;
            const holders = mine.filter((r) => r.slot === true && !isTerminal(r.status)).length;
            const waiting = mine.filter((r) => r.status === "waiting").length;
            expect(running, `${when}: running`).toBeLessThanOrEqual(def.maxConcurrency);
            expect(holders, `${when}: slots`).toBeLessThanOrEqual(def.maxConcurrency);
            if (def.maxQueueLength !== undefined)
              expect(waiting, `${when}: waiting`).toBeLessThanOrEqual(def.maxQueueLength);
            // Every shard's counters equal what its own runs say (one shard when not sharded).
            const shards = shardCount(def.maxConcurrency, sharded ? 1 : undefined);
            for (let shard = 0; shard < shards; shard += 1) {
              const inShard = mine.filter((r) => (r.shard ?? 0) === shard);
              const counters = await svc.counters.get("acme", shardScope(def.name, shard));
              expect(
                { running: counters?.running ?? 0, waiting: counters?.waiting ?? 0 },
                `${when}: counters of shard ${shard}`,
              ).toEqual({
                running: inShard.filter((r) => r.slot === true && !isTerminal(r.status)).length,
                waiting: inShard.filter((r) => r.status === "waiting").length,
              });
            }
            expect(mine.filter((r) => (r.shard ?? 0) >= shards)).toEqual([]);
          }
        };

        const claim = (run: Run) =>
          svc.runs.claim(run, {
            now: new Date(t).toISOString(),
            leaseUntil: new Date(t + LEASE_MS).toISOString(),
          });
        const guardOf = (run: Run) => ({ status: "running" as const, attempts: run.attempts });

        /** Ranked above: a higher priority, or the same one and started earlier (ids are in start order). */
        const ranksAbove = (a: Run, b: Run) =>
          (a.priority ?? 0) !== (b.priority ?? 0)
            ? (a.priority ?? 0) > (b.priority ?? 0)
            : ids.indexOf(a.id) < ids.indexOf(b.id);
        const lineOf = (r: Run) => `${r.definition}#${r.shard ?? 0}`;
        /** Runs promoted in this step passed fewer runs ranked above them than their line has slots. */
        const checkOrder = async (before: Run[], when: string) => {
          const wasWaiting = new Map(before.filter((r) => r.status === "waiting").map((r) => [r.id, r]));
          const after = await runsOf();
          const stillWaiting = after.filter((r) => r.status === "waiting");
          for (const run of after) {
            const was = wasWaiting.get(run.id);
            if (was === undefined || run.status === "waiting" || run.status === "cancelled") continue;
            const def = defs.find((d) => d.name === run.definition);
            // One slot per shard when sharded; else the definition's slots.
            const slots = sharded ? 1 : (def?.maxConcurrency ?? 1);
            const passed = stillWaiting.filter((r) => lineOf(r) === lineOf(was) && ranksAbove(r, was));
            expect(
              passed.map((r) => `${r.id} (priority ${r.priority ?? 0})`),
              `${when}: ${run.id} (priority ${run.priority ?? 0}) promoted past`,
            ).toHaveLength(Math.min(passed.length, slots - 1));
          }
        };

        for (const [step, op] of ops.entries()) {
          const runs = await runsOf();
          const now = new Date(t);
          switch (op.op) {
            case "start": {
              const def = defs[op.def] ?? defs[0];
              try {
                const { run } = await startTask(svc, caller, {
                  definition: def?.name ?? "",
                  ...(op.priority === undefined ? {} : { priority: op.priority }),
                });
                ids.push(run.id);
              } catch (error) {
                if (!(error instanceof QueueFullError)) throw error;
              }
              break;
            }
            case "claim": {
              const run = pick(runs, op.pick, (r) => r.status === "queued" || r.status === "running");
              if (run) await claim(run);
              break;
            }
            case "succeed": {
              const run = pick(runs, op.pick, (r) => r.status === "running");
              if (run)
                await endRun(svc, run, { guard: guardOf(run), ...succeededEnding(run, { ok: 1 }, now) });
              break;
            }
            case "fail": {
              const run = pick(runs, op.pick, (r) => r.status === "running");
              if (run)
                await endRun(svc, run, {
                  guard: guardOf(run),
                  ...afterHandlerError(run, new Error("x"), now, svc.random),
                });
              break;
            }
            case "timeout": {
              const run = pick(runs, op.pick, (r) => r.status === "running");
              if (run) await endRun(svc, run, { guard: guardOf(run), ...timedOutEnding(run, now) });
              break;
            }
            case "crash":
              // The worker vanishes without a word: its lease simply runs out.
              t += LEASE_MS + 1;
              break;
            case "cancel": {
              const run = pick(runs, op.pick, () => true);
              if (run)
                await cancelTask(svc, caller, run.id).catch((error) => {
                  if (!(error instanceof ConflictError)) throw error;
                });
              break;
            }
            case "advance":
              t += op.ms;
              break;
            case "sweep":
              t += COUNTERS_QUIET_MS;
              await sweep(svc);
              break;
          }
          await check(`step ${step} (${op.op})`);
          await checkOrder(runs, `step ${step} (${op.op})`);
        }

        // Drain: keep working and sweeping until every accepted run has finished.
        for (let i = 0; i < 60; i += 1) {
          const runs = await runsOf();
          if (runs.every((r) => isTerminal(r.status))) break;
          t += 17 * 60_000; // past every lease and sweep time
          for (const run of runs.filter((r) => r.status === "queued")) await claim(run);
          for (const run of (await runsOf()).filter(
            (r) => r.status === "running" && r.cancelRequestedAt === undefined,
          )) {
            await endRun(svc, run, { guard: guardOf(run), ...succeededEnding(run, null, new Date(t)) });
          }
          await sweep(svc);
          await check(`drain ${i}`);
          await checkOrder(runs, `drain ${i}`);
        }
        const finished = await runsOf();
        for (const run of finished)
          expect(isTerminal(run.status), `run ${run.id} still ${run.status}`).toBe(true);
        for (const def of defs) {
          for (let shard = 0; shard < shardCount(def.maxConcurrency, sharded ? 1 : undefined); shard += 1) {
            const counters = await svc.counters.get("acme", shardScope(def.name, shard));
            expect({ running: counters?.running ?? 0, waiting: counters?.waiting ?? 0 }).toEqual({
              running: 0,
              waiting: 0,
            });
          }
        }
      },
    ),
    { numRuns: 16 },
  );
}, 240_000);
