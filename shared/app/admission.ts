/**
 * Admission: whether a start may take a slot, must wait in line (in DynamoDB, not in SQS), or is
 * refused because the line is full; and which waiting run takes a slot when one frees. Every
 * decision is one transaction over the run and the counters it changes, so no race can let an
 * extra run in or count one twice. Limits are read live at each decision.
 *
 * Two gates, each with its own slots and line (docs/admission.md "Tenant caps"):
 * - the definition's `maxConcurrency`, with its line capped by `maxQueueLength`;
 * - for a tenant the operator capped, the tenant's `maxConcurrency` over all its definitions, with a
 *   tenant-wide line capped by `maxWaiting`. Its counters are the item TENANT_SCOPE.
 * A run holding a slot holds one at each gate that applies. A waiting run is in exactly one line,
 * that of the gate that holds it back: the tenant's when both are full. When promotion finds the
 * other gate full, the run moves to that gate's line (a move takes no slot), so each line only
 * ever holds runs its own gate holds back, and whichever slot frees finds its runs in its line.
 * A run in a definition's line already passed the tenant's line: it takes a freed tenant slot
 * before the tenant's line does (never the other way round, or the two would hand runs back and forth).
 */
import { parseScope, shardCount, shardLimits, shardOf, shardScope } from "../core/admission-shards.ts";
import { type DefinitionLimits, isLimited } from "../core/definition.ts";
import { changeLinePatch, promotedPatch } from "../core/lifecycle.ts";
import {
  type CounterEffect,
  type CounterRefusal,
  type Counters,
  type RunMessage,
  type RunWrite,
  TENANT_SCOPE,
} from "../core/ports.ts";
import type { Run } from "../core/run.ts";
import type { TenantLimits } from "../core/tenant.ts";
import type { Services } from "./services.ts";
import { tenantLimitsOf } from "./tenant-limits.ts";

/** The limits a start is admitted under: its definition's and its tenant's. */
export interface AdmissionLimits {
  definition: DefinitionLimits;
  tenant: TenantLimits;
}

/**
 * Whether the operator capped the tenant's running runs. Only then do its runs touch the tenant's
 * counters item: a tenant without a cap writes exactly what it wrote before tenant caps existed.
 */
export function isCapped(limits: TenantLimits): boolean {
  return limits.maxConcurrency !== undefined;
}

/** Neither the definition nor the tenant limits it: a start needs no counter, slot or line. */
export function isUnlimited(admission: AdmissionLimits): boolean {
  return !isLimited(admission.definition) && !isCapped(admission.tenant);
}

/** The limits a start of `definition` in `tenant` is admitted under now. */
export async function admissionLimits(
  svc: Services,
  tenant: string,
  definition: DefinitionLimits,
): Promise<AdmissionLimits> {
  return { definition, tenant: await tenantLimitsOf(svc, tenant) };
}

/** Where an admitted start goes: its status, what the run records it holds, and the counters changes. */
export interface Placement {
  status: "queued" | "waiting";
  /** Set on the run (a new run, or the patch of a delayed start falling due). */
  marks: { slot?: true; tenantSlot?: true; tenantLine?: true; shard?: number };
  counters: CounterEffect[];
}

/** A store write's answer, as admission reads it (RunStore.create or transition). */
type WriteResult = { ok: true } | CounterRefusal | { ok: false; cause: "run" | "idempotency" | "debounce" };

export type AdmissionOutcome<R> =
  /** Written as `placement` says; `promoted` runs of its line took a slot right after (maybe this one). */
  | { kind: "placed"; placement: Placement; promoted: number }
  /** The line it had to join is at its limit: nothing was written. */
  | { kind: "full"; line: "tenant" | "definition" }
  /** The write refused for a reason of its own (an id or idempotency key taken, a run that moved on). */
  | { kind: "refused"; result: R };

/**
 * Admits a start: into a slot if both gates look free and nobody waits at either, else into the
 * line of the gate that holds it back (the tenant's when both do). `write` writes the run with a
 * placement in one transaction. Without limits at either gate, the run is written with no
 * counters change at all.
 */
export async function admit<R extends WriteResult>(
  svc: Services,
  tenant: string,
  run: { id: string; definition: string },
  admission: AdmissionLimits,
  write: (placement: Placement) => Promise<R>,
): Promise<AdmissionOutcome<Exclude<R, { ok: true } | CounterRefusal>>> {
  type Refused = Exclude<R, { ok: true } | CounterRefusal>;
  const at = svc.clock.now().toISOString();
  if (isUnlimited(admission)) {
    const free: Placement = { status: "queued", marks: {}, counters: [] };
    const result = await write(free);
    return result.ok
      ? { kind: "placed", placement: free, promoted: 0 }
      : { kind: "refused", result: result as Refused };
  }
  // A limited definition's run is admitted in one counter shard (chosen from its id) with that
  // shard's share of the limits; with one shard, that is the definition's own counters and limits.
  const shards = shardsOf(admission.definition);
  const shard = isLimited(admission.definition) ? shardOf(run.id, shards) : 0;
  const definition = shardScope(run.definition, shard);
  const limits = { ...admission, definition: shardLimits(admission.definition, shard, shards) };
  const inShard = (placement: Placement): Placement =>
    shard === 0 ? placement : { ...placement, marks: { ...placement.marks, shard } };
  // Reading the counters first saves a refused transaction whenever runs are already waiting.
  let heldBy = await gateHoldingBack(svc, tenant, definition, limits);
  if (heldBy === undefined) {
    const direct = inShard(directPlacement(limits, definition, at));
    const result = await write(direct);
    if (result.ok) return { kind: "placed", placement: direct, promoted: 0 };
    if (result.cause !== "counter") return { kind: "refused", result: result as Refused };
    heldBy = (result as CounterRefusal).definition === TENANT_SCOPE ? "tenant" : "definition";
  }
  const line = inShard(linePlacement(heldBy, limits, definition, at));
  const result = await write(line);
  if (!result.ok) {
    return result.cause === "counter"
      ? { kind: "full", line: heldBy }
      : { kind: "refused", result: result as Refused };
  }
  // A slot may have freed between the two writes, with nobody in line to take it yet.
  const promoted =
    heldBy === "tenant"
      ? await promoteTenantLine(svc, tenant)
      : await promoteWaiting(svc, tenant, definition);
  return { kind: "placed", placement: line, promoted };
}

/**
 * How many counter shards a definition has: those putDefinition set (counterShardsFor), else one
 * (a definition put before shards existed keeps one until its next put while idle).
 */
export function shardsOf(limits: DefinitionLimits): number {
  return limits.counterShards ?? 1;
}

/**
 * The shard count a definition's new limits get. The rule's, unless it differs from the count in
 * force and some run still holds a slot or waits in one of those shards: re-splitting the limits
 * then could let the shards together pass maxConcurrency (a shard over its new share keeps its
 * runs while another takes its whole new share), so the count in force stays until a put finds
 * the definition idle. Undefined for one shard (nothing to store).
 */
export async function counterShardsFor(
  svc: Services,
  tenant: string,
  definition: string,
  previous: DefinitionLimits | undefined,
  next: DefinitionLimits,
): Promise<number | undefined> {
  const wanted = shardCount(next.maxConcurrency, svc.admission?.slotsPerShard);
  const current = previous === undefined || !isLimited(previous) ? wanted : shardsOf(previous);
  let shards = wanted;
  if (current !== wanted) {
    const counters = await Promise.all(
      Array.from({ length: Math.max(current, wanted) }, (_, shard) =>
        svc.counters.get(tenant, shardScope(definition, shard)),
      ),
    );
    const busy = counters.some((c) => c !== undefined && (c.running > 0 || c.waiting > 0));
    if (busy) shards = current;
  }
  return shards === 1 ? undefined : shards;
}

/** Which gate looks full or has a line (a read; the write decides): the tenant's first. */
async function gateHoldingBack(
  svc: Services,
  tenant: string,
  definition: string,
  limits: AdmissionLimits,
): Promise<"tenant" | "definition" | undefined> {
  const capped = isCapped(limits.tenant);
  const limited = isLimited(limits.definition);
  const [tenantCounters, definitionCounters] = await Promise.all([
    capped ? svc.counters.get(tenant, TENANT_SCOPE) : undefined,
    limited ? svc.counters.get(tenant, definition) : undefined,
  ]);
  if (capped && !looksFree(tenantCounters, limits.tenant.maxConcurrency)) return "tenant";
  if (limited && !looksFree(definitionCounters, limits.definition.maxConcurrency)) return "definition";
  return undefined;
}

/** A slot is free and nobody waits (a missing item has never counted anything). */
function looksFree(counters: Counters | undefined, maxConcurrency: number | undefined): boolean {
  if (counters === undefined) return true;
  return counters.waiting <= 0 && (maxConcurrency === undefined || counters.running < maxConcurrency);
}

/** A start that takes a slot at each gate that applies, at once. */
function directPlacement(limits: AdmissionLimits, definition: string, at: string): Placement {
  const capped = isCapped(limits.tenant);
  const limited = isLimited(limits.definition);
  return {
    status: "queued",
    marks: { ...(limited ? { slot: true } : {}), ...(capped ? { tenantSlot: true } : {}) },
    // The tenant's item first: when both refuse, the refusal names the tenant, whose line comes first.
    counters: [
      ...(capped ? [tenantTake(limits.tenant, at)] : []),
      ...(limited ? [directAdmission(limits.definition, definition, at)] : []),
    ],
  };
}

function linePlacement(
  line: "tenant" | "definition",
  limits: AdmissionLimits,
  definition: string,
  at: string,
): Placement {
  if (line === "definition") {
    return { status: "waiting", marks: {}, counters: [waitingAdmission(limits.definition, definition, at)] };
  }
  return {
    status: "waiting",
    marks: { tenantLine: true },
    counters: [waitingAdmission({ maxQueueLength: limits.tenant.maxWaiting }, TENANT_SCOPE, at)],
  };
}

/** The counters change of a start that goes straight to the queue: a free slot and nobody ahead. */
export function directAdmission(limits: DefinitionLimits, definition: string, at: string): CounterEffect {
  return {
    definition,
    running: 1,
    require: {
      ...(limits.maxConcurrency === undefined ? {} : { runningBelow: limits.maxConcurrency }),
      // Never overtake runs already waiting; they get freed slots first, in order.
      noneWaiting: true,
    },
    at,
  };
}

/**
 * The tenant's half of a direct start. Its counters item is one partition key that every start,
 * promotion and end of the tenant's runs writes: DynamoDB takes about 1,000 write units/s on it,
 * 2 per transactional write, so about 500 changes/s, and a run changes it at least twice (its
 * admission, its end), so a capped tenant runs at most about 250 runs/s on AWS. Accepted because
 * only capped tenants write it (isCapped); their definitions' items are separate keys.
 */
function tenantTake(limits: TenantLimits, at: string): CounterEffect {
  return directAdmission(limits, TENANT_SCOPE, at);
}

/** The counters change of a start that joins the waiting line. */
export function waitingAdmission(limits: DefinitionLimits, definition: string, at: string): CounterEffect {
  return {
    definition,
    waiting: 1,
    ...(limits.maxQueueLength === undefined ? {} : { require: { waitingBelow: limits.maxQueueLength } }),
    at,
  };
}

/** How many promotions one call makes at most; the sweeper picks up anything left. */
const MAX_PROMOTIONS = 50;

/**
 * Moves the oldest waiting runs of a definition into free slots and sends their messages (with
 * TENANT_SCOPE, the tenant's line: promoteTenantLine). Safe to call any time, from anywhere,
 * concurrently: each promotion is one transaction, conditional on the run still waiting in this
 * line and a slot still free. Returns how many it promoted.
 *
 * Concurrent callers (every run that ends frees a slot) would all reach for the same oldest run;
 * each picks at random among the first `free` waiting runs instead. All of those get the free
 * slots anyway, so the line still moves in start order, without the callers colliding.
 *
 * In a capped tenant a promoted run takes a tenant slot too. If the tenant has none free, the run
 * moves to the tenant's line instead (keeping its place by start time), where the next freed
 * tenant slot finds it.
 */
export async function promoteWaiting(svc: Services, tenant: string, scope: string): Promise<number> {
  if (scope === TENANT_SCOPE) return promoteTenantLine(svc, tenant);
  // `scope` is a definition's counters key: the definition itself, or one of its shards.
  const { definition, shard } = parseScope(scope);
  let limits: DefinitionLimits | undefined;
  let tenantLimits: TenantLimits | undefined;
  let promoted = 0;
  for (let round = 0; round < MAX_PROMOTIONS * 2 && promoted < MAX_PROMOTIONS; round += 1) {
    const counters = await svc.counters.get(tenant, scope);
    if (counters === undefined || counters.waiting <= 0) return promoted;
    if (limits === undefined) {
      const live = await liveLimits(svc, tenant, definition, scope);
      const shards = shardsOf(live);
      // A shard left from a higher limit has no slots now: its line moves to the live shards.
      if (shard >= shards) return promoted + (await moveToLiveShards(svc, tenant, definition, shard, shards));
      limits = shardLimits(live, shard, shards);
    }
    const free =
      limits.maxConcurrency === undefined ? counters.waiting : limits.maxConcurrency - counters.running;
    if (free <= 0) return promoted;
    const candidates = await svc.runs.waiting(tenant, scope, Math.min(free, 10));
    const ref = candidates[Math.floor(svc.random() * candidates.length)];
    if (ref === undefined) return promoted;
    tenantLimits ??= await tenantLimitsOf(svc, tenant);
    const now = svc.clock.now();
    const at = now.toISOString();
    const guard = { status: "waiting", attempts: 0, inTenantLine: false, shard } as const;
    const capped = isCapped(tenantLimits);
    const result = await svc.runs.transition(
      ref,
      guard,
      promotedPatch(now, { slot: true, tenantSlot: capped }),
      [
        {
          definition: scope,
          running: 1,
          waiting: -1,
          ...(limits.maxConcurrency === undefined
            ? {}
            : { require: { runningBelow: limits.maxConcurrency } }),
          at,
        },
        // No noneWaiting here: a run in its definition's line already passed the tenant's line.
        ...(capped ? [tenantSlotTaken(tenantLimits, at)] : []),
      ],
    );
    if (result.ok) {
      await sendRun(svc, { ...ref, attempts: 0 });
      promoted += 1;
      // That was the last free slot as of the read: no need to read the counters again.
      if (free === 1) return promoted;
    } else if (result.cause === "counter" && result.definition === TENANT_SCOPE) {
      // Its definition has room, its tenant has none: the tenant's gate holds it back now.
      await svc.runs.transition(ref, guard, changeLinePatch("tenant", now), [
        { definition: scope, waiting: -1, at },
        { definition: TENANT_SCOPE, waiting: 1, at },
      ]);
    }
    // Refused otherwise: another caller took that run or that slot first; look at the counters again.
  }
  return promoted;
}

/**
 * Moves the oldest runs of the tenant's line into free tenant slots. A run whose definition has no
 * free slot (or a line of its own) moves to its definition's line instead, without taking the
 * tenant slot, and the next run of the tenant's line is tried. Same guarantees as promoteWaiting.
 */
export async function promoteTenantLine(svc: Services, tenant: string): Promise<number> {
  let tenantLimits: TenantLimits | undefined;
  const definitionLimits = new Map<string, DefinitionLimits>();
  const movedInto = new Set<string>();
  let promoted = 0;
  for (let round = 0; round < MAX_PROMOTIONS * 2 && promoted < MAX_PROMOTIONS; round += 1) {
    const counters = await svc.counters.get(tenant, TENANT_SCOPE);
    if (counters === undefined || counters.waiting <= 0) break;
    tenantLimits ??= await tenantLimitsOf(svc, tenant);
    const cap = tenantLimits.maxConcurrency;
    // Lifted cap: everyone in line may go (each still through its definition's gate).
    const free = cap === undefined ? counters.waiting : cap - counters.running;
    if (free <= 0) break;
    const candidates = await svc.runs.waiting(tenant, TENANT_SCOPE, Math.min(free, 10));
    const ref = candidates[Math.floor(svc.random() * candidates.length)];
    if (ref === undefined) break;
    // The index holds no definition: read the run (consistently, so one just moved is seen as such).
    const run = await svc.runs.get(ref);
    if (run === undefined || run.status !== "waiting" || run.tenantLine !== true) continue;
    let limits = definitionLimits.get(run.definition);
    if (limits === undefined) {
      limits = (await svc.definitions.get(tenant, run.definition)) ?? run.limits ?? {};
      definitionLimits.set(run.definition, limits);
    }
    const limited = isLimited(limits);
    const now = svc.clock.now();
    const at = now.toISOString();
    // Its definition's gate is that of its shard; a shard left from a higher limit sends it to a live one.
    const shards = shardsOf(limits);
    const from = run.shard ?? 0;
    const shard = !limited ? from : from < shards ? from : shardOf(run.id, shards);
    const scope = shardScope(run.definition, shard);
    const shardLimit = shardLimits(limits, shard, shards);
    const toShard = shard === from ? {} : { shard };
    const guard = { status: "waiting", attempts: 0, inTenantLine: true, shard: from } as const;
    if (limited && !looksFree(await svc.counters.get(tenant, scope), shardLimit.maxConcurrency)) {
      // Its tenant has room, its definition has none (or a line): its definition holds it back now.
      const moved = await svc.runs.transition(
        run,
        guard,
        { ...changeLinePatch("definition", now), ...toShard },
        [
          { definition: TENANT_SCOPE, waiting: -1, at },
          { definition: scope, waiting: 1, at },
        ],
      );
      if (moved.ok) movedInto.add(scope);
      continue;
    }
    const result = await svc.runs.transition(
      run,
      guard,
      { ...promotedPatch(now, { slot: limited, tenantSlot: true }), ...toShard },
      [
        { ...tenantSlotTaken(tenantLimits, at), waiting: -1 },
        ...(limited ? [directAdmission(shardLimit, scope, at)] : []),
      ],
    );
    if (result.ok) {
      await sendRun(svc, run);
      promoted += 1;
      if (free === 1) break;
    }
    // Refused: another caller took that run or a slot first, or its definition filled meanwhile.
  }
  // A run just moved may find its definition's slot freed meanwhile, with nobody else to promote it.
  for (const definition of movedInto) promoted += await promoteWaiting(svc, tenant, definition);
  return promoted;
}

/** How many of the oldest waiting runs an end picks its successor among (see endWithHandOff). */
const HANDOFF_CANDIDATES = 10;
/** Successors an end tries before it gives its slot back the plain way (promoteNext follows). */
const HANDOFF_TRIES = 2;

/** What an end wrote: nothing (the run had moved on), or its end, with the counters left freed. */
export type EndWrite = { written: false } | { written: true; freed: readonly CounterEffect[] };

/**
 * Ends a run that holds a definition slot and, in the same transaction, gives that slot to the
 * oldest waiting run of its line: the ending run's write, the next run's `waiting → queued`, and
 * the counters (the definition's line one shorter, its `running` unchanged), all or nothing. So
 * a slot changes hands with one counters write instead of two, and no promoter races another
 * for it. Conditional on the next run still waiting in this line and, since limits are live, on
 * `running` not above `maxConcurrency` (a lowered limit lets the slot go instead). In a capped
 * tenant the next run takes a tenant slot too (the ending one's, if it held one).
 *
 * Undefined when no hand-off applies (no slot given back, nobody waiting, a counters condition
 * refused, or every candidate taken meanwhile): the caller then writes the plain end and
 * promotes as before. A crash after the write leaves the next run queued with its sweepAt, so
 * the sweeper sends its message; a duplicate end changes nothing (the ending run's guard).
 */
export async function endWithHandOff(
  svc: Services,
  ending: RunWrite & { ref: Pick<Run, "tenant" | "id" | "definition" | "shard"> },
  released: readonly CounterEffect[],
): Promise<EndWrite | undefined> {
  const { tenant } = ending.ref;
  const shard = ending.ref.shard ?? 0;
  // The slot is its shard's, and goes to the next run of that shard's line.
  const definition = shardScope(ending.ref.definition, shard);
  const gives = released.some((effect) => effect.definition === definition && effect.running === -1);
  if (!gives) return undefined;
  const candidates = await svc.runs.waiting(tenant, definition, HANDOFF_CANDIDATES);
  if (candidates.length === 0) return undefined;
  const [live, tenantLimits] = await Promise.all([
    liveLimits(svc, tenant, ending.ref.definition, definition),
    tenantLimitsOf(svc, tenant),
  ]);
  const shards = shardsOf(live);
  // A shard left from a higher limit keeps no slot: the plain end frees it, and its line moves on.
  if (shard >= shards) return undefined;
  const limits = shardLimits(live, shard, shards);
  const now = svc.clock.now();
  const at = now.toISOString();
  const capped = isCapped(tenantLimits);
  const heldTenantSlot = released.some(
    (effect) => effect.definition === TENANT_SCOPE && effect.running === -1,
  );
  const max = limits.maxConcurrency;
  const counters: CounterEffect[] = [
    { definition, waiting: -1, ...(max === undefined ? {} : { require: { runningBelow: max + 1 } }), at },
  ];
  const tenantMax = tenantLimits.maxConcurrency;
  if (capped && tenantMax !== undefined) {
    // The ending run's tenant slot passes on (running unchanged), or the next run takes a free one.
    counters.push(
      heldTenantSlot
        ? { definition: TENANT_SCOPE, require: { runningBelow: tenantMax + 1 }, at }
        : tenantSlotTaken(tenantLimits, at),
    );
  } else if (heldTenantSlot) {
    counters.push({ definition: TENANT_SCOPE, running: -1, at });
  }
  // A tenant slot given back and not passed on (the cap was lifted) is left for the tenant's line.
  const freed = !capped && heldTenantSlot ? counters.slice(1) : [];
  // Ends at once pick among the oldest few (no more than there are slots), not all the oldest one.
  const pool = candidates.slice(0, Math.max(1, Math.min(max ?? HANDOFF_CANDIDATES, candidates.length)));
  for (let attempt = 0; attempt < HANDOFF_TRIES && pool.length > 0; attempt += 1) {
    const [next] = pool.splice(Math.floor(svc.random() * pool.length), 1);
    if (next === undefined) break;
    const result = await svc.runs.handOff(
      ending,
      {
        ref: next,
        guard: { status: "waiting", attempts: 0, inTenantLine: false, shard },
        patch: promotedPatch(now, { slot: true, tenantSlot: capped }),
      },
      counters,
    );
    if (result.ok) {
      await sendRun(svc, { ...next, attempts: 0 });
      return { written: true, freed };
    }
    if (result.cause === "run") return { written: false };
    if (result.cause === "counter") return undefined;
    // That run was promoted, moved or cancelled meanwhile: try another.
  }
  return undefined;
}

/**
 * Moves the waiting runs of a shard left from a higher limit (it has no slots now) into the lines
 * of the live shards, each run to the shard its id picks, keeping its place by start time; then
 * promotes those lines. Each move is one transaction conditional on the run still waiting in
 * that shard, so two movers move a run once. Returns how many runs it promoted.
 */
async function moveToLiveShards(
  svc: Services,
  tenant: string,
  definition: string,
  from: number,
  shards: number,
): Promise<number> {
  const fromScope = shardScope(definition, from);
  const movedInto = new Set<string>();
  for (let round = 0; round < MAX_PROMOTIONS; round += 1) {
    const [ref] = await svc.runs.waiting(tenant, fromScope, 1);
    if (ref === undefined) break;
    const to = shardOf(ref.id, shards);
    const now = svc.clock.now();
    const at = now.toISOString();
    const moved = await svc.runs.transition(
      { ...ref, definition },
      { status: "waiting", attempts: 0, inTenantLine: false, shard: from },
      { shard: to, updatedAt: at },
      [
        { definition: fromScope, waiting: -1, at },
        { definition: shardScope(definition, to), waiting: 1, at },
      ],
    );
    if (moved.ok) movedInto.add(shardScope(definition, to));
  }
  let promoted = 0;
  for (const scope of movedInto) promoted += await promoteWaiting(svc, tenant, scope);
  return promoted;
}

/** The tenant's half of a promotion: one more slot taken, if one is free. */
function tenantSlotTaken(limits: TenantLimits, at: string): CounterEffect {
  return {
    definition: TENANT_SCOPE,
    running: 1,
    ...(limits.maxConcurrency === undefined ? {} : { require: { runningBelow: limits.maxConcurrency } }),
    at,
  };
}

/**
 * The definition's limits now, or, if it was deleted, those its waiting runs started under (read
 * from the oldest run of the line `scope`, the definition's or one of its shards').
 */
async function liveLimits(
  svc: Services,
  tenant: string,
  definitionName: string,
  scope = definitionName,
): Promise<DefinitionLimits> {
  const definition = await svc.definitions.get(tenant, definitionName);
  if (definition !== undefined) return definition;
  const [oldest] = await svc.runs.waiting(tenant, scope, 1);
  return (oldest === undefined ? undefined : (await svc.runs.get(oldest))?.limits) ?? {};
}

/**
 * Sends a queued run's message. If SQS refuses, the run stays queued and is marked for the
 * sweeper's next round, which sends it again: an accepted run is never dropped.
 */
/** What a run's message says: ids, the attempt bound and the trace, nothing of the run's data. */
export function runMessageOf(
  run: Pick<Run, "tenant" | "id" | "queue" | "timeoutSeconds" | "trace">,
): RunMessage {
  return {
    tenant: run.tenant,
    runId: run.id,
    timeoutSeconds: run.timeoutSeconds,
    ...(run.queue === undefined ? {} : { queue: run.queue }),
    ...(run.trace === undefined ? {} : { trace: run.trace }),
  };
}

export async function sendRun(
  svc: Services,
  run: Pick<Run, "tenant" | "id" | "queue" | "timeoutSeconds" | "attempts" | "trace">,
  sendId?: string,
): Promise<void> {
  try {
    await svc.queue.enqueue(runMessageOf(run), sendId);
  } catch (error) {
    svc.log.error("could not send the run's message; the sweeper will send it", {
      tenant: run.tenant,
      taskId: run.id,
      error,
    });
    await svc.runs
      .update(run, { status: "queued", attempts: run.attempts }, { sweepAt: svc.clock.now().toISOString() })
      .catch(() => undefined);
  }
}
