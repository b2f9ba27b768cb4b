/**
 * The in-memory composition root: every port on its memory adapter, a clock that moves only when
 * told, and ids and randomness from a seed, so the use cases of shared/app run in a test in
 * milliseconds and the same way every time. `drain` and `settle` stand in for Lambda's SQS event
 * source and the trigger: they hand the run queue's messages to the worker in FIFO batches,
 * exactly as local/sqs-event-source.ts does, deleting what the batch did not report as failed.
 *
 * @example
 * const mem = memoryServices({ registry });
 * await putDefinition(mem.svc, "acme", "echo", { handler: "echo" });
 * const { run } = await startTask(mem.svc, caller, { definition: "echo" });
 * await mem.drain();
 */
import { monotonicFactory } from "ulid";
import { startDue } from "../app/engine.ts";
import { batchGroupOf, processFifoBatch } from "../app/fifo-batch.ts";
import { contextualLog } from "../app/log-context.ts";
import type { Services } from "../app/services.ts";
import type { Log } from "../core/ports.ts";
import type { HandlerRegistry } from "../core/task.ts";
import { hashKey } from "../core/tenant.ts";
import { ManualClock } from "./manual-clock.ts";
import { MemoryBulkStore } from "./memory-bulk-store.ts";
import { MemoryChainStore } from "./memory-chain-store.ts";
import { MemoryCounterStore } from "./memory-counter-store.ts";
import { MemoryDefinitionScheduler } from "./memory-definition-scheduler.ts";
import { MemoryDefinitionStore } from "./memory-definition-store.ts";
import { MemoryDependencyProbes } from "./memory-dependency-probes.ts";
import { MemoryDestinationStore } from "./memory-destination-store.ts";
import { MemoryFileStore } from "./memory-file-store.ts";
import { MemoryMetrics } from "./memory-metrics.ts";
import { MemoryParamCrypto } from "./memory-param-crypto.ts";
import { MemoryRunQueue } from "./memory-run-queue.ts";
import { MemoryRunStore } from "./memory-run-store.ts";
import { MemoryRunTimer } from "./memory-run-timer.ts";
import { MemoryStartRateStore } from "./memory-start-rate-store.ts";
import { MemoryTenantStore } from "./memory-tenant-store.ts";
import { RecordingLog } from "./recording-log.ts";

export interface MemoryServicesOptions {
  registry: HandlerRegistry;
  /** Where the clock starts (default 2026-01-01T00:00:00Z). */
  start?: Date | string;
  /** Seeds run ids and `random` (default 1): the same seed gives the same ids and jitter. */
  seed?: number;
  /** Backoff jitter in [0, 1); default a PRNG from `seed`. */
  random?: () => number;
  leaseSeconds?: number;
  flushIntervalMs?: number;
  /** The operator key; its hash becomes `rootKeyHash`. */
  rootKey?: string;
  /** Signs file tokens; a fixed test secret by default, `null` for none. */
  fileTokenSecret?: string | null;
  /** Where log lines go besides `log.entries`. */
  log?: Log;
}

export interface DrainReport {
  /** Batches handed to the worker. */
  batches: number;
  /** Messages delivered (a redelivery counts again). */
  deliveries: number;
  /** Delayed starts whose timer fired (settle only). */
  timersFired: number;
}

export interface MemoryServices {
  svc: Services;
  clock: ManualClock;
  runs: MemoryRunStore;
  counters: MemoryCounterStore;
  chains: MemoryChainStore;
  definitions: MemoryDefinitionStore;
  tenants: MemoryTenantStore;
  startRates: MemoryStartRateStore;
  queue: MemoryRunQueue;
  timer: MemoryRunTimer;
  scheduler: MemoryDefinitionScheduler;
  files: MemoryFileStore;
  crypto: MemoryParamCrypto;
  metrics: MemoryMetrics;
  /** GET /health's probes: mark a dependency `down` or `silent` to see the route answer 503. */
  dependencies: MemoryDependencyProbes;
  log: RecordingLog;
  /**
   * Delivers the messages visible now to the worker, a batch of up to 10 at a time, until none
   * is visible; the clock stays where it is. Messages put back for later (a retry's backoff, a run
   * held by a live worker) stay in the queue.
   */
  drain(options?: { maxBatches?: number }): Promise<DrainReport>;
  /**
   * Lets time pass until nothing is left to do: drains, fires due delayed starts (startDue, as the
   * trigger does), then moves the clock to the next hidden message or timer, and again. Stops when
   * nothing is hidden and no timer is set, or at `until` (the clock then reads `until`); throws
   * past `maxBatches` (a run that never settles).
   */
  settle(options?: { maxBatches?: number; until?: Date }): Promise<DrainReport>;
}

const DEFAULT_FILE_TOKEN_SECRET = "memory-services-file-token-secret-0123456789";

export function memoryServices(options: MemoryServicesOptions): MemoryServices {
  const clock = new ManualClock(options.start);
  const seed = options.seed ?? 1;
  const counters = new MemoryCounterStore();
  const runs = new MemoryRunStore({ counters });
  const chains = new MemoryChainStore();
  const definitions = new MemoryDefinitionStore();
  const tenants = new MemoryTenantStore();
  const startRates = new MemoryStartRateStore();
  const leaseSeconds = options.leaseSeconds ?? 30;
  // As on AWS and locally, the queue's visibility timeout is the lease.
  const queue = new MemoryRunQueue({ clock, visibilityTimeoutSeconds: leaseSeconds });
  const timer = new MemoryRunTimer();
  const scheduler = new MemoryDefinitionScheduler();
  const files = new MemoryFileStore({ now: () => clock.now() });
  const crypto = new MemoryParamCrypto();
  const metrics = new MemoryMetrics();
  const dependencies = new MemoryDependencyProbes();
  const recorded = new RecordingLog(options.log === undefined ? {} : { forward: options.log });
  // Ids draw on a stream of their own, so a test that sets `random` still gets the same ids.
  const ulid = monotonicFactory(seededRandom(seed * 7919));
  const fileTokenSecret =
    options.fileTokenSecret === null ? undefined : (options.fileTokenSecret ?? DEFAULT_FILE_TOKEN_SECRET);
  const svc: Services = {
    destinations: new MemoryDestinationStore(),
    // Test servers listen on loopback.
    uploads: { allowPrivateAddresses: true, connectTimeoutMs: 2_000 },
    runs,
    bulks: new MemoryBulkStore(),
    counters,
    chains,
    definitions,
    tenants,
    startRates,
    queue,
    timer,
    files,
    crypto,
    ...(fileTokenSecret === undefined ? {} : { fileTokenSecret }),
    scheduler,
    dependencies: dependencies.probes,
    registry: options.registry,
    clock,
    log: contextualLog(recorded),
    metrics,
    newId: () => ulid(clock.now().getTime()),
    random: options.random ?? seededRandom(seed),
    ...(options.rootKey === undefined ? {} : { rootKeyHash: hashKey(options.rootKey) }),
    worker: { leaseSeconds, flushIntervalMs: options.flushIntervalMs ?? 1_000 },
  };

  const drainInto = async (report: DrainReport, maxBatches: number): Promise<void> => {
    for (let messages = queue.receive(10); messages.length > 0; messages = queue.receive(10)) {
      if (report.batches >= maxBatches) {
        throw new Error(`the run queue did not drain within ${maxBatches} batches`);
      }
      report.batches += 1;
      report.deliveries += messages.length;
      let failed: Set<string>;
      try {
        const result = await processFifoBatch(
          svc,
          messages.map((m) => ({ ...m, groupId: batchGroupOf(m) })),
        );
        failed = new Set(result.failedMessageIds);
      } catch (error) {
        // Like Lambda: an invocation that throws fails the whole batch; SQS delivers it again.
        svc.log.error("worker invocation failed", { error });
        continue;
      }
      for (const message of messages) if (!failed.has(message.messageId)) queue.delete(message.receipt);
    }
  };

  return {
    svc,
    clock,
    runs,
    counters,
    chains,
    definitions,
    tenants,
    startRates,
    queue,
    timer,
    scheduler,
    files,
    crypto,
    metrics,
    dependencies,
    log: recorded,
    async drain({ maxBatches = 1_000 } = {}) {
      const report = { batches: 0, deliveries: 0, timersFired: 0 };
      await drainInto(report, maxBatches);
      return report;
    },
    async settle({ maxBatches = 1_000, until } = {}) {
      const report = { batches: 0, deliveries: 0, timersFired: 0 };
      for (;;) {
        await drainInto(report, maxBatches);
        const due = timer.takeDue(clock.now());
        for (const ref of due) {
          report.timersFired += 1;
          await startDue(svc, ref);
        }
        if (due.length > 0) continue; // their messages are visible now
        const next = earliest(queue.nextVisibleAt(), timer.pending()[0]?.at);
        if (next === undefined || (until !== undefined && next.getTime() > until.getTime())) {
          if (until !== undefined) clock.advanceTo(until);
          return report;
        }
        clock.advanceTo(next);
      }
    },
  };
}

function earliest(a: Date | undefined, b: Date | undefined): Date | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a.getTime() <= b.getTime() ? a : b;
}

/** mulberry32: a small, fast PRNG with a 32-bit seed; plenty for ids and jitter in tests. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
