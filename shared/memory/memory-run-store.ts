import { createHash } from "node:crypto";
import { AWS_LIMITS } from "../aws/aws-limits.ts";
import { decodeCursor, encodeCursor } from "../aws/cursor.ts";
import {
  BESIDE_FIELDS,
  createdKeyOf,
  DUE_SHARDS,
  dueShardOf,
  keptBeside,
  LIST_ROUNDS,
  LIST_SHARDS,
  lineKeyOf,
  listShardOf,
  mergeShardPages,
  RunCursor,
  type ShardPage,
  StartedCursor,
  SWEEP_SHARDS,
  statusGroupOf,
  sweepShardOf,
} from "../aws/run-keys.ts";
import { shardScope } from "../core/admission-shards.ts";
import type { AttemptRecord } from "../core/attempts.ts";
import type { DebounceRecord } from "../core/debounce.ts";
import { ConflictError, ItemTooLargeError } from "../core/errors.ts";
import { jsonBytes } from "../core/limits.ts";
import {
  type ClaimResult,
  COUNTED_STATUSES,
  type CountedStatus,
  type CounterEffect,
  type CreateExtras,
  type CreateResult,
  type HandOffResult,
  type IdempotencyRecord,
  type Page,
  type RunCountsByDefinition,
  type RunGuard,
  type RunListQuery,
  type RunPatch,
  type RunStore,
  type RunWrite,
  type StartedRun,
  TENANT_SCOPE,
  type TransitionResult,
  type WaitingRun,
} from "../core/ports.ts";
import { isTerminal, Run, type RunRef, type RunSummary, summaryOf } from "../core/run.ts";
import { jsonCopy } from "./json-copy.ts";
import type { MemoryCounterStore } from "./memory-counter-store.ts";

/**
 * Runs in memory, behaving as DynamoRunStore does on DynamoDB: every write conditional on the
 * guard, a write together with its counters change and idempotency record all-or-nothing (each
 * method does its checks and writes in one synchronous step, so no other call interleaves), and
 * the queries reading what DynamoDB's sparse indexes would hold, in their order, with the same
 * page limits and cursors. Runs are stored as JSON and read back through the Run schema, as
 * DynamoDB items are.
 */
export class MemoryRunStore implements RunStore {
  readonly #runs = new Map<string, Run>();
  readonly #idempotency = new Map<string, IdempotencyRecord>();
  /** Debounce windows by "<tenant>#debounce#<definition>#<key>" (DynamoRunStore's debounce item). */
  readonly #debounce = new Map<string, DebounceRecord>();
  /** Chain-started runs counted per tree, by "<root tenant>#<root id>" (DynamoRunStore's tree item). */
  readonly #treeRuns = new Map<string, number>();
  /** Attempt records by run key, then attempt number (DynamoRunStore's "attempt#…" items beside the run). */
  readonly #attemptRecords = new Map<string, Map<number, AttemptRecord>>();
  readonly #counters: MemoryCounterStore;

  constructor(options: { counters: MemoryCounterStore }) {
    this.#counters = options.counters;
  }

  async create(run: Run, extras: CreateExtras = {}): Promise<CreateResult> {
    const key = keyOf(run);
    const counters = extras.counters ?? [];
    // Checked in the order of DynamoRunStore's transaction items: the first refusal is reported.
    if (this.#runs.has(key)) throw new ConflictError(`run ${run.id} already exists`);
    const refusing = this.#counters.firstRefusing(run.tenant, counters);
    if (refusing !== undefined) return { ok: false, cause: "counter", definition: refusing.definition };
    const record = extras.idempotency;
    if (record !== undefined) {
      const existing = this.#idempotency.get(idempotencyKeyOf(record.tenant, record.key));
      // A key is free if unused or if its record outlived its 24 h (TTL deletes lazily).
      const now = Math.floor(Date.parse(run.createdAt) / 1000);
      if (existing !== undefined && !(existing.expiresAt < now))
        return { ok: false, cause: "idempotency", existing: jsonCopy(existing) };
    }
    const window = extras.debounce;
    const windowKey =
      window === undefined
        ? undefined
        : debounceKeyOf(window.record.tenant, window.record.definition, window.record.key);
    if (window !== undefined && windowKey !== undefined) {
      // Free if nobody opened one, or if the one there is the window that closed (DynamoRunStore's condition).
      const open = this.#debounce.get(windowKey);
      if (open !== undefined && (window.replaces === undefined || open.runId !== window.replaces))
        return { ok: false, cause: "debounce" };
    }
    this.#runs.set(key, sized(toStored(run)));
    for (const effect of counters) this.#counters.apply(run.tenant, effect);
    if (record !== undefined)
      this.#idempotency.set(idempotencyKeyOf(record.tenant, record.key), jsonCopy(record));
    if (window !== undefined && windowKey !== undefined)
      this.#debounce.set(windowKey, jsonCopy(window.record));
    return { ok: true };
  }

  async getDebounce(tenant: string, definition: string, key: string): Promise<DebounceRecord | undefined> {
    const record = this.#debounce.get(debounceKeyOf(tenant, definition, key));
    return record === undefined ? undefined : jsonCopy(record);
  }

  async getIdempotency(tenant: string, key: string): Promise<IdempotencyRecord | undefined> {
    const record = this.#idempotency.get(idempotencyKeyOf(tenant, key));
    return record === undefined ? undefined : jsonCopy(record);
  }

  async get(ref: RunRef): Promise<Run | undefined> {
    const stored = this.#runs.get(keyOf(ref));
    return stored === undefined ? undefined : fromStored(stored);
  }

  async claim(ref: RunRef, at: { now: string; leaseUntil: string }): Promise<ClaimResult> {
    const stored = this.#runs.get(keyOf(ref));
    if (stored === undefined) return { claimed: false, current: undefined };
    // Claimable: queued and due, or running whose worker stopped renewing its lease while
    // attempts remain and nobody asked to cancel it.
    const claimable =
      (stored.status === "queued" &&
        (stored.nextAttemptAt === undefined || stored.nextAttemptAt <= at.now)) ||
      (stored.status === "running" &&
        stored.leaseUntil !== undefined &&
        stored.leaseUntil < at.now &&
        stored.attempts < stored.maxAttempts &&
        stored.cancelRequestedAt === undefined);
    if (!claimable) return { claimed: false, current: fromStored(stored) };
    const { nextAttemptAt: _removed, ...rest } = stored;
    const next: Run = {
      ...rest,
      status: "running",
      attempts: stored.attempts + 1,
      leaseUntil: at.leaseUntil,
      updatedAt: at.now,
      startedAt: stored.startedAt ?? at.now,
      attemptStartedAt: at.now,
    };
    this.#runs.set(keyOf(ref), next);
    return { claimed: true, run: fromStored(next) };
  }

  async update(ref: RunRef, guard: RunGuard, patch: RunPatch): Promise<Run | undefined> {
    // A patch that changes nothing is no write at all: DynamoRunStore then reads the run as it is.
    if (isEmpty(patch)) return this.get(ref);
    const stored = this.#runs.get(keyOf(ref));
    if (stored === undefined || !matches(stored, guard)) return undefined;
    const next = sized(applyPatch(stored, patch));
    this.#runs.set(keyOf(ref), next);
    this.#keepAttemptRecord(ref, patch);
    return fromStored(next);
  }

  async transition(
    ref: RunRef,
    guard: RunGuard,
    patch: RunPatch,
    counters: readonly CounterEffect[] = [],
  ): Promise<TransitionResult> {
    const stored = this.#runs.get(keyOf(ref));
    if (counters.length === 0) {
      if (isEmpty(patch)) return stored === undefined ? { ok: false, cause: "run" } : { ok: true };
      if (stored === undefined || !matches(stored, guard)) return { ok: false, cause: "run" };
      this.#runs.set(keyOf(ref), sized(applyPatch(stored, patch)));
      this.#keepAttemptRecord(ref, patch);
      return { ok: true };
    }
    if (isEmpty(patch)) throw new Error("a transition needs something to change");
    if (stored === undefined) return { ok: false, cause: "run" };
    if (!matches(stored, guard)) return { ok: false, cause: "run", current: fromStored(stored) };
    const refusing = this.#counters.firstRefusing(ref.tenant, counters);
    if (refusing !== undefined) return { ok: false, cause: "counter", definition: refusing.definition };
    this.#runs.set(keyOf(ref), sized(applyPatch(stored, patch)));
    this.#keepAttemptRecord(ref, patch);
    for (const effect of counters) this.#counters.apply(ref.tenant, effect);
    return { ok: true };
  }

  async handOff(
    ending: RunWrite,
    next: RunWrite,
    counters: readonly CounterEffect[],
  ): Promise<HandOffResult> {
    if (isEmpty(ending.patch) || isEmpty(next.patch)) throw new Error("a hand-off needs two changes");
    // Checked in the order of DynamoRunStore's transaction items: the first refusal is reported.
    const endingRun = this.#runs.get(keyOf(ending.ref));
    if (endingRun === undefined || !matches(endingRun, ending.guard)) return { ok: false, cause: "run" };
    const nextRun = this.#runs.get(keyOf(next.ref));
    if (nextRun === undefined || !matches(nextRun, next.guard)) return { ok: false, cause: "next" };
    const refusing = this.#counters.firstRefusing(ending.ref.tenant, counters);
    if (refusing !== undefined) return { ok: false, cause: "counter", definition: refusing.definition };
    this.#runs.set(keyOf(ending.ref), sized(applyPatch(endingRun, ending.patch)));
    this.#runs.set(keyOf(next.ref), sized(applyPatch(nextRun, next.patch)));
    this.#keepAttemptRecord(ending.ref, ending.patch);
    this.#keepAttemptRecord(next.ref, next.patch);
    for (const effect of counters) this.#counters.apply(ending.ref.tenant, effect);
    return { ok: true };
  }

  async waiting(tenant: string, definition: string, limit: number): Promise<WaitingRun[]> {
    return this.#select((run) => run.tenant === tenant && waitsIn(run, definition))
      .sort(byLineKey)
      .slice(0, limit)
      .map((run) => ({
        tenant: run.tenant,
        id: run.id,
        ...(run.queue === undefined ? {} : { queue: run.queue }),
        timeoutSeconds: run.timeoutSeconds,
      }));
  }

  async countHolders(tenant: string, definition: string): Promise<{ running: number; waiting: number }> {
    const runs = this.#select((run) => run.tenant === tenant);
    const holds =
      definition === TENANT_SCOPE
        ? holdsTenantSlot
        : (run: Run) => scopeOf(run) === definition && holdsSlot(run);
    return {
      running: runs.filter(holds).length,
      waiting: runs.filter((run) => waitsIn(run, definition)).length,
    };
  }

  async dueForSweep(now: string, limit: number): Promise<RunRef[]> {
    return dueAcrossShards(
      this.#select((run) => run.sweepAt !== undefined && run.sweepAt <= now),
      (run) => run.sweepAt ?? "",
      SWEEP_SHARDS,
      sweepShardOf,
      limit,
    );
  }

  async dueToStart(now: string, limit: number): Promise<RunRef[]> {
    return dueAcrossShards(
      this.#select(
        (run) => run.status === "scheduled" && run.scheduledFor !== undefined && run.scheduledFor <= now,
      ),
      (run) => run.scheduledFor ?? "",
      DUE_SHARDS,
      dueShardOf,
      limit,
    );
  }

  async list(query: RunListQuery): Promise<Page<RunSummary>> {
    const { tenant, status, definition } = query;
    const position = query.cursor === undefined ? undefined : decodeCursor(query.cursor, RunCursor);
    // The index DynamoRunStore would query, shard by shard: byStatus for a status with its own
    // group, else byTenantShard; the definition is a filter on either.
    const group = status === undefined ? undefined : statusGroupOf(status);
    const inIndex =
      group !== undefined
        ? (run: Run) => run.tenant === tenant && statusGroupOf(run.status) === group
        : (run: Run) => run.tenant === tenant;
    const shards: Run[][] = Array.from({ length: LIST_SHARDS }, () => []);
    const after = query.createdAfter;
    for (const run of this.#select(inIndex)) {
      if (after === undefined || createdKeyOf(run) >= after) shards[listShardOf(run.id)]?.push(run);
    }
    for (const shard of shards) shard.sort((a, b) => byCreatedKey(b, a));

    const before = query.createdBefore;
    let below =
      position === undefined || (before !== undefined && before < position.created)
        ? before
        : position.created;
    const runs: RunSummary[] = [];
    for (let round = 0; round < LIST_ROUNDS && runs.length < query.limit; round += 1) {
      const need = query.limit - runs.length;
      const pages = shards.map((shard): ShardPage<Run> => {
        const evaluated = shard
          .filter((run) => below === undefined || createdKeyOf(run) < below)
          .slice(0, need);
        // DynamoDB hands back a last evaluated key whenever a page reached its Limit; its filter
        // applies after the Limit.
        const last = evaluated.length === need ? evaluated[evaluated.length - 1] : undefined;
        return {
          entries: evaluated
            .filter((run) => definition === undefined || run.definition === definition)
            .map((run) => ({ createdKey: createdKeyOf(run), entry: run })),
          ...(last === undefined ? {} : { lastKey: createdKeyOf(last) }),
        };
      });
      const merged = mergeShardPages(pages, need);
      runs.push(
        ...merged.take
          .map((taken) => taken.entry)
          .filter((run) => status === undefined || run.status === status)
          .map((run) => summaryOf(fromStored(run))),
      );
      below = merged.next;
      if (below === undefined) break;
    }
    const cursor =
      below === undefined
        ? undefined
        : encodeCursor({ id: below.slice(below.lastIndexOf("#") + 1), created: below });
    return { items: runs, ...(cursor === undefined ? {} : { cursor }) };
  }

  async countTreeRun(root: RunRef, below: number, _at: string): Promise<boolean> {
    const key = keyOf(root);
    const counted = this.#treeRuns.get(key) ?? 0;
    if (!(counted < below)) return false;
    this.#treeRuns.set(key, counted + 1);
    return true;
  }

  async startedBy(origin: RunRef, page: { limit: number; cursor?: string }): Promise<Page<StartedRun>> {
    const position = page.cursor === undefined ? undefined : decodeCursor(page.cursor, StartedCursor);
    // byOrigin holds the runs it started and, beside them, its replays (in its own tenant).
    // A workflow's step is not in it: its workflow finds it by its derived id (app/tasks.ts).
    const children = this.#select((run) =>
      run.origin === undefined
        ? run.replayOf === origin.id && run.tenant === origin.tenant
        : run.parent === undefined && run.origin.tenant === origin.tenant && run.origin.taskId === origin.id,
    )
      .sort(byCreatedKey)
      .filter((run) => position === undefined || createdKeyOf(run) > position.created);
    const items = children.slice(0, page.limit);
    // Like DynamoDB: a page that reached its limit has a next key, even if nothing follows it.
    const last = items.length === page.limit ? items[items.length - 1] : undefined;
    return {
      items: items.map((run) => ({
        tenant: run.tenant,
        id: run.id,
        definition: run.definition,
        trigger: run.trigger ?? "api",
        via: run.origin?.via ?? (run.trigger === "replay" ? "replay" : ""),
        createdAt: run.createdAt,
      })),
      ...(last === undefined
        ? {}
        : { cursor: encodeCursor({ tenant: last.tenant, id: last.id, created: createdKeyOf(last) }) }),
    };
  }

  async attemptRecords(ref: RunRef): Promise<AttemptRecord[]> {
    const records = this.#attemptRecords.get(keyOf(ref));
    return records === undefined
      ? []
      : [...records.values()].sort((a, b) => a.attempt - b.attempt).map(jsonCopy);
  }

  async countSince(tenant: string, since: string, maxPerShard: number): Promise<RunCountsByDefinition> {
    let complete = true;
    // The runs each index shard holds for the tenant since then, up to maxPerShard entries, as
    // DynamoRunStore reads them; the unfinished ones share one group there, whose runs it then
    // reads for their status, as this does from its own runs.
    const read = (inShard: (run: Run) => boolean): Run[] => {
      const runs: Run[] = [];
      for (let shard = 0; shard < LIST_SHARDS; shard += 1) {
        const entries = this.#select(
          (run) =>
            run.tenant === tenant &&
            listShardOf(run.id) === shard &&
            createdKeyOf(run) >= since &&
            inShard(run),
        );
        if (entries.length > maxPerShard) complete = false;
        runs.push(...entries.sort(byCreatedKey).slice(0, maxPerShard));
      }
      return runs;
    };
    const byDefinition = (runs: Run[]): Record<string, number> => {
      const counts: Record<string, number> = {};
      for (const run of runs) counts[run.definition] = (counts[run.definition] ?? 0) + 1;
      return counts;
    };
    const all = read(() => true);
    const unfinished = read((run) => statusGroupOf(run.status) === "active");
    const inGroup = (status: CountedStatus) => (run: Run) => statusGroupOf(run.status) === status;
    return {
      total: byDefinition(all),
      byStatus: Object.fromEntries(
        COUNTED_STATUSES.map((status) => [
          status,
          isTerminal(status)
            ? byDefinition(read(inGroup(status)))
            : byDefinition(unfinished.filter((run) => run.status === status)),
        ]),
      ) as Record<CountedStatus, Record<string, number>>,
      complete,
    };
  }

  /** The attempt record a write carried, kept only once that write applied. */
  #keepAttemptRecord(ref: RunRef, patch: RunPatch): void {
    if (patch.failedAttempt === undefined) return;
    const key = keyOf(ref);
    const records = this.#attemptRecords.get(key) ?? new Map<number, AttemptRecord>();
    records.set(patch.failedAttempt.attempt, jsonCopy(patch.failedAttempt));
    this.#attemptRecords.set(key, records);
  }

  #select(predicate: (run: Run) => boolean): Run[] {
    return [...this.#runs.values()].filter(predicate);
  }
}

function keyOf(ref: RunRef): string {
  return `${ref.tenant}#${ref.id}`;
}

function debounceKeyOf(tenant: string, definition: string, key: string): string {
  return `${tenant}#debounce#${definition}#${key}`;
}

function idempotencyKeyOf(tenant: string, key: string): string {
  return `${tenant}#idem#${createHash("sha256").update(key).digest("hex")}`;
}

/** The waiting index's order (DynamoRunStore's byWaitingLine): highest priority, then oldest. */
function byLineKey(a: Run, b: Run): number {
  const left = lineKeyOf(a);
  const right = lineKeyOf(b);
  return left < right ? -1 : left > right ? 1 : 0;
}

function byCreatedKey(a: Run, b: Run): number {
  const left = createdKeyOf(a);
  const right = createdKeyOf(b);
  return left < right ? -1 : left > right ? 1 : 0;
}

/** What the slot index holds: runs holding one of their definition's slots. */
/** The counters key of the run's definition shard (the bySlot and byWaitingLine keys of DynamoRunStore). */
function scopeOf(run: Run): string {
  return shardScope(run.definition, run.shard);
}

function holdsSlot(run: Run): boolean {
  return run.slot === true && !isTerminal(run.status);
}

/** What the tenant slot index holds: runs holding one of their tenant's slots. */
function holdsTenantSlot(run: Run): boolean {
  return run.tenantSlot === true && !isTerminal(run.status);
}

/** Whether the run is in that line of the waiting index: its definition's, or (TENANT_SCOPE) its tenant's. */
function waitsIn(run: Run, line: string): boolean {
  if (run.status !== "waiting") return false;
  return line === TENANT_SCOPE ? run.tenantLine === true : scopeOf(run) === line && run.tenantLine !== true;
}

/** Each shard's due runs in time order, up to `limit` per shard, shard after shard. */
function dueAcrossShards(
  runs: Run[],
  timeOf: (run: Run) => string,
  count: number,
  shardOf: (runId: string) => number,
  limit: number,
): RunRef[] {
  const shards: Run[][] = Array.from({ length: count }, () => []);
  for (const run of runs) shards[shardOf(run.id)]?.push(run);
  return shards.flatMap((shard) =>
    shard
      .sort((a, b) => (timeOf(a) < timeOf(b) ? -1 : timeOf(a) > timeOf(b) ? 1 : keyOf(a) < keyOf(b) ? -1 : 1))
      .slice(0, limit)
      .map((run) => ({ tenant: run.tenant, id: run.id })),
  );
}

function isEmpty(patch: RunPatch): boolean {
  return Object.values(patch).every((value) => value === undefined);
}

function matches(run: Run, guard: RunGuard): boolean {
  return (
    run.status === guard.status &&
    run.attempts === guard.attempts &&
    (guard.leaseUntil === undefined || run.leaseUntil === guard.leaseUntil) &&
    (guard.notCancelRequested !== true || run.cancelRequestedAt === undefined) &&
    (guard.updatedAt === undefined || run.updatedAt === guard.updatedAt) &&
    (guard.inTenantLine === undefined || (run.tenantLine === true) === guard.inTenantLine) &&
    (guard.shard === undefined || (run.shard ?? 0) === guard.shard)
  );
}

/** The patch applied: `null` removes a field; `once` sets one record and keeps the others. */
function applyPatch(run: Run, patch: RunPatch): Run {
  const next: Record<string, unknown> = { ...run };
  for (const [field, value] of Object.entries(patch)) {
    if (field === "once" || field === "failedAttempt" || value === undefined) continue;
    if (value === null) delete next[field];
    else next[field] = jsonCopy(value);
  }
  if (patch.once !== undefined) {
    const record = { ...patch.once.record, result: patch.once.record.result ?? null };
    next.once = { ...run.once, [patch.once.key]: jsonCopy(record) };
  }
  return next as Run;
}

/**
 * DynamoDB refuses an item over 400 KB (DynamoRunStore reports it as ItemTooLargeError). As there,
 * a bulky field past INLINE_FIELD_BYTES is an item of its own beside the run's, so each of those
 * and the rest of the run are measured apart; the JSON stands in for the item's size, close
 * enough for the limits Baton keeps far below.
 */
function sized(run: Run): Run {
  const hot: Record<string, unknown> = { ...run };
  const items: unknown[] = [hot];
  for (const field of BESIDE_FIELDS) {
    if (!keptBeside(run[field])) continue;
    delete hot[field];
    items.push(run[field]);
  }
  for (const item of items) {
    const bytes = jsonBytes(item);
    if (bytes > AWS_LIMITS.dynamoItemBytes) {
      throw new ItemTooLargeError(`run ${run.id} would be ${bytes} bytes, over DynamoDB's 400 KB item limit`);
    }
  }
  return run;
}

/** As DynamoRunStore writes a run: JSON, with once results of `undefined` kept as null. */
function toStored(run: Run): Run {
  return jsonCopy({
    ...run,
    once: Object.fromEntries(
      Object.entries(run.once).map(([key, record]) => [key, { ...record, result: record.result ?? null }]),
    ),
  });
}

/** Read back through the schema: a malformed run fails loudly here, as a DynamoDB item would. */
function fromStored(stored: Run): Run {
  const parsed = Run.safeParse(jsonCopy(stored));
  if (!parsed.success) {
    throw new Error(
      `run ${stored.tenant}#${stored.id} does not match the Run schema: ${parsed.error.message}`,
    );
  }
  return parsed.data;
}
