/**
 * Ports: the only ways core reaches the world. Adapters in shared/aws implement them on AWS SDK v3
 * (DynamoDB, SQS); test/contract holds one suite per port that every adapter must pass.
 */

import type { AttemptRecord } from "./attempts.ts";
import type { BulkRecord } from "./bulk.ts";
import type { DebounceRecord } from "./debounce.ts";
import type { TaskDefinition } from "./definition.ts";
import type { DestinationRecord } from "./destination.ts";
import {
  type OnceRecord,
  RUN_STATUSES,
  type Run,
  type RunRef,
  type RunStatus,
  type RunSummary,
} from "./run.ts";
import type { RunLabels, RunMetricValues } from "./run-metrics.ts";
import type { ApiKeyRecord, Tenant } from "./tenant.ts";

export interface Clock {
  now(): Date;
}

/**
 * Structured logging; Powertools' Logger fits it, tests may pass a silent one. The composition
 * root wraps it so every line also carries the keys of the run or request being processed
 * (shared/app/log-context.ts).
 */
export interface Log {
  debug(message: string, ...extra: Record<string, unknown>[]): void;
  info(message: string, ...extra: Record<string, unknown>[]): void;
  warn(message: string, ...extra: Record<string, unknown>[]): void;
  error(message: string, ...extra: Record<string, unknown>[]): void;
}

/**
 * Run metrics (CloudWatch EMF on AWS; a file and totals locally). Called once per event, right
 * after the conditional write that made it happen succeeded, so a duplicate delivery or a lost
 * race never counts twice. Must not throw: a metric is never worth failing a run for.
 */
export interface Metrics {
  record(run: RunLabels, values: RunMetricValues): void;
}

export interface Page<T> {
  items: T[];
  /** Opaque; pass back to get the next page. Absent on the last page. */
  cursor?: string;
}

/**
 * A run to write; a write that moves it to another counter shard (a patch with `shard`) also
 * names its definition, which the store's shard index keys are made of.
 */
export type ShardedRef = RunRef & { definition?: string };

/** What a conditional write on a run expects to find; a mismatch makes the write a no-op. */
export interface RunGuard {
  status: RunStatus;
  attempts: number;
  /** Also require this exact lease (used when ending a run whose worker vanished). */
  leaseUntil?: string;
  /** Also require that nobody asked to cancel the run (a worker's progress writes). */
  notCancelRequested?: boolean;
  /** Also require the run unchanged since it was read (read-modify-write of logs, output). */
  updatedAt?: string;
  /**
   * Also require a waiting run to be in its tenant's line (true) or its definition's (false): a
   * run moves between the two without changing status, and each line has its own counter.
   */
  inTenantLine?: boolean;
  /** Also require the run to be in this counter shard of its definition (absent on the run: 0). */
  shard?: number;
}

/**
 * A change to a definition's counters made in the same transaction as a run's write, so the
 * counters can never count a run twice or miss one. `require` is checked before the change.
 * `definition` TENANT_SCOPE means the tenant's own counters (its maxConcurrency and line).
 */
export interface CounterEffect {
  definition: string;
  running?: number;
  waiting?: number;
  require?: { runningBelow?: number; waitingBelow?: number; noneWaiting?: boolean };
  at: string;
}

/**
 * The counters key of a tenant's own admission limits (TenantLimits.maxConcurrency/maxWaiting),
 * beside its definitions' keys: no definition name can be "*" (names.ts), so the counter store,
 * its conditions and the sweeper's repair serve the tenant scope unchanged. Its `running` counts
 * the tenant's runs holding a tenant slot, its `waiting` the runs in the tenant-wide line.
 */
export const TENANT_SCOPE = "*";

/** A definition's admission counters: runs holding a slot (queued or running) and runs waiting. */
export interface Counters {
  tenant: string;
  definition: string;
  running: number;
  waiting: number;
  version: number;
  updatedAt: string;
}

/** The record of an idempotent start: the same key within its lifetime returns the same run. */
export interface IdempotencyRecord {
  tenant: string;
  key: string;
  runId: string;
  /** Hash of what the key was used for (definition, params, queue): a different use is a conflict. */
  requestHash: string;
  /** Epoch seconds; the record is ignored after this (DynamoDB TTL removes it later). */
  expiresAt: number;
}

/** A counters change that its `require` refused: which counters item (a definition, or TENANT_SCOPE). */
export interface CounterRefusal {
  ok: false;
  cause: "counter";
  definition: string;
}

export type CreateResult =
  | { ok: true }
  | CounterRefusal
  | { ok: false; cause: "idempotency"; existing: IdempotencyRecord }
  /** Another start opened the debounce window meanwhile: read it again and join it. */
  | { ok: false; cause: "debounce" };

/**
 * A debounce window a new run opens, written in the run's create transaction: only if no record
 * exists, or if the one there still names `replaces` (the run of the window that closed).
 */
export interface DebounceWrite {
  record: DebounceRecord;
  replaces?: string;
}

/** What a create writes with the run, in the same transaction. */
export interface CreateExtras {
  counters?: readonly CounterEffect[];
  idempotency?: IdempotencyRecord;
  debounce?: DebounceWrite;
}

export type TransitionResult = { ok: true } | CounterRefusal | { ok: false; cause: "run"; current?: Run };

/** One run's conditional write, as part of a transaction over several runs (RunStore.handOff). */
export interface RunWrite {
  ref: ShardedRef;
  guard: RunGuard;
  patch: RunPatch;
}

/** Which part of a hand-off refused: the ending run, the next run, or a counters item. */
export type HandOffResult = { ok: true } | CounterRefusal | { ok: false; cause: "run" | "next" };

/** A waiting run, with what its message needs (read from the waiting index alone). */
export interface WaitingRun extends RunRef {
  queue?: string;
  timeoutSeconds: number;
}

/** Fields a write may set; `null` removes an attribute. */
export type RunPatch = {
  [K in
    | "status"
    | "params"
    | "scheduledFor"
    | "attempts"
    | "updatedAt"
    | "startedAt"
    | "endedAt"
    | "leaseUntil"
    | "nextAttemptAt"
    | "slot"
    | "tenantSlot"
    | "tenantLine"
    | "shard"
    | "sweepAt"
    | "cancelRequestedAt"
    | "fileTokensRevokedAt"
    | "callbackTokenHash"
    | "callbackDeadline"
    | "subtext"
    | "stepStatus"
    | "chainOutcomes"
    | "output"
    | "error"
    | "feedback"
    | "progress"
    | "logs"
    | "logsDropped"]?: Run[K] | null;
} & {
  /** Set one `ctx.once` record without rewriting the others. */
  once?: { key: string; record: OnceRecord };
  /**
   * An attempt that did not succeed: its record, kept beside the run (not in it) and written with
   * this write or not at all. See core/attempts.ts.
   */
  failedAttempt?: AttemptRecord;
};

export type ClaimResult = { claimed: true; run: Run } | { claimed: false; current: Run | undefined };

/** A run that another run started, as the starting run lists it. */
export interface StartedRun extends RunRef {
  definition: string;
  trigger: import("./run.ts").RunTrigger;
  /** How: chain:<name>, step:<id> or task:<call key>. */
  via: string;
  createdAt: string;
}

export interface RunListQuery {
  tenant: string;
  status?: RunStatus;
  definition?: string;
  /** Runs created at or after this time (canonical ISO 8601): a bound of the index's sort key. */
  createdAfter?: string;
  /** Runs created before this time (canonical ISO 8601): a bound of the index's sort key. */
  createdBefore?: string;
  limit: number;
  cursor?: string;
}

export interface RunStore {
  /**
   * Adds a new run, together with its counters changes and idempotency record when given (one
   * transaction). Throws ConflictError if the id exists; reports a counter or key that refused
   * (of several counters refusing, the first in `counters`).
   */
  create(run: Run, extras?: CreateExtras): Promise<CreateResult>;
  getIdempotency(tenant: string, key: string): Promise<IdempotencyRecord | undefined>;
  /** The debounce window of (tenant, definition, key), open or closed, if a start wrote one. */
  getDebounce(tenant: string, definition: string, key: string): Promise<DebounceRecord | undefined>;
  get(ref: RunRef): Promise<Run | undefined>;
  /**
   * Takes the run for one attempt: succeeds only if it is `queued` and due, or `running` with a
   * lease that ran out and attempts left. Sets status running, attempts + 1, leaseUntil, and leaves
   * sweepAt as it is. On failure returns the run as it is, so the caller can tell why without
   * another read.
   */
  claim(ref: RunRef, at: { now: string; leaseUntil: string }): Promise<ClaimResult>;
  /** Applies `patch` if the run matches `guard`; returns the new run, or undefined if it did not match. */
  update(ref: RunRef, guard: RunGuard, patch: RunPatch): Promise<Run | undefined>;
  /**
   * Like update, optionally with counters changes (a definition's, the tenant's, or both) in the
   * same transaction; tells which side refused (of several counters, the first in `counters`).
   */
  transition(
    ref: ShardedRef,
    guard: RunGuard,
    patch: RunPatch,
    counters?: readonly CounterEffect[],
  ): Promise<TransitionResult>;
  /**
   * A slot changes hands in one transaction: `ending` ends (or gives its slot back), `next` takes
   * the slot (a waiting run promoted), and `counters` change by the difference (for a definition,
   * only its line gets shorter). All or nothing; tells which part refused (of several counters,
   * the first in `counters`).
   */
  handOff(ending: RunWrite, next: RunWrite, counters: readonly CounterEffect[]): Promise<HandOffResult>;
  /**
   * The oldest runs waiting in a definition's line, or with TENANT_SCOPE in the tenant-wide line,
   * oldest first (an index that holds only waiting runs).
   */
  waiting(tenant: string, definition: string, limit: number): Promise<WaitingRun[]>;
  /**
   * What the runs themselves say the counters should be; with TENANT_SCOPE, the runs holding a
   * tenant slot and those in the tenant-wide line.
   */
  countHolders(tenant: string, definition: string): Promise<{ running: number; waiting: number }>;
  /** Runs, across tenants, that the sweeper should look at by `now`. */
  dueForSweep(now: string, limit: number): Promise<RunRef[]>;
  /** Delayed starts, across tenants, due by `now` (an index that holds only scheduled runs). */
  dueToStart(now: string, limit: number): Promise<RunRef[]>;
  /** Newest first, by index; never a table scan. Throws ValidationError on a bad cursor. */
  list(query: RunListQuery): Promise<Page<RunSummary>>;
  /**
   * Counts one more chain-started run into the tree of `root` (its first run), if fewer than
   * `below` are counted; false (and nothing counted) otherwise. One conditional write on a
   * per-tree item, so concurrent hops of one tree never pass the limit together.
   */
  countTreeRun(root: RunRef, below: number, at: string): Promise<boolean>;
  /**
   * The runs `origin` started (in any tenant), and its replays, oldest first, by index. Throws
   * ValidationError on a bad cursor.
   */
  startedBy(origin: RunRef, page: { limit: number; cursor?: string }): Promise<Page<StartedRun>>;
  /** The records of the run's attempts that did not succeed (core/attempts.ts), in attempt order. */
  attemptRecords(ref: RunRef): Promise<AttemptRecord[]>;
  /**
   * How many of a tenant's runs were created at or after `since`, by definition, read from the
   * listing indexes (never a scan): `total` all of them, `byStatus` those in each status but
   * succeeded (succeeded runs are in no byStatus group: they are the rest of the total). The
   * unfinished statuses share one index group that does not hold the status, so those runs' own
   * items are read for it (a batched get per run still unfinished). At most `maxPerShard` entries
   * are read from each index shard; `complete` is false when that (or a read the table kept
   * refusing) cut a count short. A snapshot: a run read in one place and moved on before another
   * is counted where each read found it.
   */
  countSince(tenant: string, since: string, maxPerShard: number): Promise<RunCountsByDefinition>;
}

/** The statuses countSince counts each on its own: all but succeeded, which is the rest of the total. */
export type CountedStatus = Exclude<RunStatus, "succeeded">;
export const COUNTED_STATUSES: readonly CountedStatus[] = RUN_STATUSES.filter(
  (status): status is CountedStatus => status !== "succeeded",
);

export interface RunCountsByDefinition {
  total: Record<string, number>;
  byStatus: Record<CountedStatus, Record<string, number>>;
  complete: boolean;
}

/** A bulk, as the sweeper finds it. */
export interface BulkRef {
  tenant: string;
  id: string;
}

/**
 * Bulk actions' records (shared/core/bulk.ts): one per bulk, and per tenant the set of its running
 * bulks. Every write is conditional; none touches a run's keys.
 */
export interface BulkStore {
  /**
   * Adds a running bulk, and it to its tenant's running set, in one transaction, if the tenant
   * runs fewer than `maxRunning`; false (and nothing written) otherwise.
   */
  create(bulk: BulkRecord, maxRunning: number): Promise<boolean>;
  get(tenant: string, id: string): Promise<BulkRecord | undefined>;
  /**
   * Replaces the record with `next` if it is still running at page `expectedPage` (so of two
   * tries of one page, one saves). When `next` has ended, it leaves its tenant's running set in
   * the same transaction. False when the record had moved on.
   */
  savePage(next: BulkRecord, expectedPage: number): Promise<boolean>;
  /** Running bulks, across tenants, whose `sweepAt` is at or before `now`, by index. */
  dueForSweep(now: string, limit: number): Promise<BulkRef[]>;
  /** Moves a running bulk's sweepAt if it is still at `page` with sweepAt `was`; false otherwise. */
  moveSweepAt(ref: BulkRef, expect: { page: number; was: string }, sweepAt: string): Promise<boolean>;
}

/** Seals (encrypts) and opens chain params and destination credentials, bound to their context. */
export interface ParamCrypto {
  seal(plaintext: string, context: import("./sealed.ts").SealContext): Promise<string>;
  open(sealed: string, context: import("./sealed.ts").SealContext): Promise<string>;
}

/** Task files (S3): written by handlers, read through short-lived URLs. */
export interface FileStore {
  put(
    key: string,
    body: Buffer | Uint8Array | string | import("node:stream").Readable,
    contentType: string,
    /** Aborts the upload: an attempt that lost its lease must not replace its retry's file. */
    options?: { signal?: AbortSignal },
  ): Promise<{ size: number }>;
  /** Bytes, or undefined when there is no such file. */
  size(key: string): Promise<number | undefined>;
  downloadUrl(key: string, fileName: string, seconds: number): Promise<string>;
}

export interface ChainRecord {
  tenant: string;
  name: string;
  definition: string;
  description?: string;
  createdAt: string;
  updatedAt: string;
}

export interface AccessGrant {
  /** The target tenant, which holds the grant. */
  tenant: string;
  sourceTenant: string;
  chain: string;
  createdAt: string;
}

export interface ChainStore {
  putChain(chain: ChainRecord): Promise<{ created: boolean }>;
  getChain(tenant: string, name: string): Promise<ChainRecord | undefined>;
  deleteChain(tenant: string, name: string): Promise<boolean>;
  listChains(tenant: string): Promise<ChainRecord[]>;
  putGrant(grant: AccessGrant): Promise<{ created: boolean }>;
  hasGrant(tenant: string, sourceTenant: string, chain: string): Promise<boolean>;
  deleteGrant(tenant: string, sourceTenant: string, chain: string): Promise<boolean>;
  listGrants(tenant: string): Promise<AccessGrant[]>;
}

/** Upload destinations, by tenant and name; credentials arrive and leave sealed. */
export interface DestinationStore {
  /**
   * Creates (`replaces` undefined) or replaces the version last updated at `replaces`; throws
   * ConflictError when the stored one is not that (created or changed meanwhile).
   */
  put(destination: DestinationRecord, replaces: string | undefined): Promise<void>;
  get(tenant: string, name: string): Promise<DestinationRecord | undefined>;
  delete(tenant: string, name: string): Promise<boolean>;
  /** A tenant's destinations, by name (a tenant has few). */
  list(tenant: string): Promise<DestinationRecord[]>;
}

/** Whether a start was let through a tenant's start rate; when not, how long until one would be. */
export type StartRateDecision = { admitted: true } | { admitted: false; retryAfterSeconds: number };

/**
 * Each tenant's start-rate bucket (GCRA, shared/core/start-rate.ts), shared by every process that
 * starts runs. `take` admits or refuses one start at `now` under `rate` and records an admitted
 * one, atomically: concurrent takes never admit more than the rate and burst allow together. A
 * refused take changes nothing. The rate is passed in (it is the tenant's setting), so a changed
 * rate applies from the next take on.
 */
export interface StartRateStore {
  take(tenant: string, rate: import("./start-rate.ts").StartRate, now: Date): Promise<StartRateDecision>;
}

export interface CounterStore {
  get(tenant: string, definition: string): Promise<Counters | undefined>;
  /** Every counters item (for the sweeper; a read of the whole, small, counters table). */
  list(cursor?: string): Promise<Page<Counters>>;
  /** Overwrites the counts if nothing changed them since `version`. */
  repair(counters: Counters, values: { running: number; waiting: number; at: string }): Promise<boolean>;
}

export interface DefinitionStore {
  /** Creates or replaces; returns whether it existed before. */
  put(definition: TaskDefinition): Promise<{ created: boolean }>;
  get(tenant: string, name: string): Promise<TaskDefinition | undefined>;
  delete(tenant: string, name: string): Promise<boolean>;
  /**
   * A page of a tenant's definitions by name. It stops early, with a cursor, before the items'
   * JSON would pass `maxBytes` (definitions carry default params), but holds at least one.
   */
  list(
    tenant: string,
    page: { limit: number; cursor?: string; maxBytes?: number },
  ): Promise<Page<TaskDefinition>>;
}

export interface TenantStore {
  /** Throws ConflictError if the tenant exists. */
  createTenant(tenant: Tenant): Promise<void>;
  getTenant(id: string): Promise<Tenant | undefined>;
  /** Replaces a tenant's limits; false if there is no such tenant. */
  setLimits(id: string, limits: import("./tenant.ts").TenantLimits): Promise<boolean>;
  /** Throws ConflictError if a key with that hash exists. */
  putKey(key: ApiKeyRecord): Promise<void>;
  getKey(keyHash: string): Promise<ApiKeyRecord | undefined>;
  /** A tenant's keys, by key id. */
  listKeys(tenant: string): Promise<ApiKeyRecord[]>;
  /** Deletes a tenant's key by id; false if there was none. */
  deleteKey(tenant: string, keyId: string): Promise<boolean>;
}

/** The message that asks a worker to run (or look at) one run. Small on purpose: the run is in the store. */
export interface RunMessage {
  tenant: string;
  runId: string;
  /** Runs with the same queue never overlap and start in order (one SQS FIFO message group). */
  queue?: string;
  /** Lets a worker skip a run it could not finish within its own remaining time. */
  timeoutSeconds?: number;
  /** The W3C traceparent of the run's start, when traced (shared/app/tracing.ts). */
  trace?: string;
  /**
   * When the message was sent before its run was written (engine.ts, `startSentFirst`): until
   * then a worker that finds no run waits for it, and after ORPHAN_WAIT_MS it drops the message.
   */
  sentAt?: string;
}

/** The message that asks a worker to do one page of a bulk (shared/app/bulk.ts). */
export interface BulkPageMessage {
  tenant: string;
  bulkId: string;
  /** The page number: a message for a page already saved is a duplicate, and does nothing. */
  page: number;
}

/**
 * Fires delayed starts at their time (SQS delay queue or EventBridge Scheduler on AWS; locally a
 * loop over the scheduled runs themselves). A firing calls `startDue`; firing twice is harmless.
 */
export interface RunTimer {
  scheduleStart(run: RunRef, at: Date): Promise<void>;
  /** Best effort: a firing that still comes finds the run cancelled and does nothing. */
  cancelStart(run: RunRef): Promise<void>;
}

/**
 * Keeps each definition's cron schedule firing (EventBridge Scheduler on AWS, an in-process loop
 * locally). A firing calls `startScheduled`; firing twice for one time starts one run.
 */
export interface DefinitionScheduler {
  put(definition: TaskDefinition): Promise<void>;
  remove(tenant: string, definition: string): Promise<void>;
}

/**
 * The two run queues. `fifo`: runs on a named queue, one FIFO message group per queue, so they
 * start in order and never overlap. `fair`: every other run, on an SQS fair queue whose message
 * group is the tenant, so one tenant's backlog does not hold back another tenant's runs.
 */
export type RunLane = "fifo" | "fair";

/** Where a received message came from, and the handle to hide or show it again. */
export interface RunReceipt {
  lane: RunLane;
  handle: string;
}

export interface RunQueue {
  /**
   * Sends a run's message. `sendId` tells sends of the same run apart (a promotion, a resend by
   * the sweeper): on the FIFO lane the same run and sendId within SQS's dedup window are sent
   * once; the fair lane (a standard queue) does not deduplicate, and the worker's conditional
   * claim makes a duplicate harmless.
   */
  enqueue(message: RunMessage, sendId?: string): Promise<void>;
  /** Sends a bulk's page message on the fair lane, its message group the tenant. */
  enqueueBulkPage(message: BulkPageMessage): Promise<void>;
  /** Hides a received message for `seconds` more (heartbeat, or a retry's backoff). */
  setVisibility(receipt: RunReceipt, seconds: number): Promise<void>;
}

/** The services the API cannot answer without, as GET /health names them. */
export const DEPENDENCIES = ["dynamodb", "sqs", "s3"] as const;
export type Dependency = (typeof DEPENDENCIES)[number];

/**
 * One cheap read per dependency of the API, for GET /health: a probe resolves when its dependency
 * answered as it should and rejects otherwise (no answer, throttled, refused). It gives up when
 * `signal` aborts. Reads only, so probing often costs little and changes nothing.
 */
export type DependencyProbes = Record<Dependency, (signal: AbortSignal) => Promise<void>>;
