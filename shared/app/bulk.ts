/**
 * Bulk actions: cancel or replay every run of the caller's tenant that a filter matches.
 *
 * The request only writes the bulk's record and sends its first page message; a worker does
 * each page (list the next `pageSize` matching runs from the record's cursor, act on each, then
 * save cursor and tallies with one write conditional on the page number) and sends the next
 * page's message. So any number of runs is worked through without a request held open, by
 * index queries only (the tenant's own listing partitions; creation times bound their sort key).
 *
 * Safe to repeat, which is what makes it safe to resume:
 * - a crash after acting and before the save leaves the page message in the queue; it comes
 *   back and the page is done again. Cancelling a cancelled run changes nothing, and a replay's
 *   run id is derived from the bulk and the original (bulkReplayRunId), so a run is replayed once;
 * - a duplicate page message (or two workers on one page): one save wins, the other is a no-op,
 *   and a message naming a page already saved does nothing;
 * - a lost next-page message (a crash between the save and the send): the sweeper sends it
 *   again once the bulk's `sweepAt` passes without a saved page.
 * A bulk acts only on runs created before it started, so the runs it replays are never matched.
 */
import {
  addTally,
  BULK_LIMITS,
  type BulkAction,
  type BulkFilter,
  type BulkRecord,
  type BulkTally,
  bulkReplayRunId,
  countReason,
  emptyTally,
} from "../core/bulk.ts";
import {
  BatonError,
  ConflictError,
  NotFoundError,
  RateLimitedError,
  ValidationError,
} from "../core/errors.ts";
import type { BulkPageMessage } from "../core/ports.ts";
import { isTerminal, type RunSummary } from "../core/run.ts";
import { cancelRun } from "./engine.ts";
import { runCaller, type TenantPrincipal } from "./identity.ts";
import { replayTask } from "./replay.ts";
import type { Services } from "./services.ts";
import type { DeliveryResult } from "./worker.ts";

export interface BulkInput {
  action: BulkAction;
  filter: BulkFilter;
  /** Count the matching runs, act on none. */
  dryRun?: boolean;
}

export interface StartedBulk {
  bulk: BulkRecord;
  /** Runs the filter matched in the first page. */
  matched: number;
  /** False when more pages may match: `matched` is then a lower bound, and GET gives the running total. */
  matchedAll: boolean;
}

class TooManyBulksError extends RateLimitedError {}

/** Runs a page holds: Services.bulk.pageSize (tests), else BULK_LIMITS.pageSize. */
function pageSizeOf(svc: Services): number {
  return svc.bulk?.pageSize ?? BULK_LIMITS.pageSize;
}

/** Acts run by run, this many at a time: a page's acts are independent of each other. */
const ACTS_AT_ONCE = 8;

export async function startBulk(
  svc: Services,
  caller: TenantPrincipal,
  input: BulkInput,
): Promise<StartedBulk> {
  const now = svc.clock.now();
  const at = now.toISOString();
  const bulk: BulkRecord = {
    tenant: caller.tenant,
    id: svc.newId(),
    action: input.action,
    filter: input.filter,
    dryRun: input.dryRun === true,
    status: "running",
    page: 0,
    ...emptyTally(),
    createdBy: caller.keyId,
    createdAt: at,
    updatedAt: at,
    sweepAt: stallDeadline(now),
  };
  // The first page is read (not acted on) to answer how many runs match: one bounded page.
  const first = await matchingPage(svc, bulk);
  if (!(await svc.bulks.create(bulk, BULK_LIMITS.maxRunning))) {
    throw new TooManyBulksError(
      `tenant "${caller.tenant}" already runs ${BULK_LIMITS.maxRunning} bulk actions; try again when one has ended`,
      { retryAfterSeconds: 10, details: { maxRunning: BULK_LIMITS.maxRunning } },
    );
  }
  await svc.queue
    .enqueueBulkPage({ tenant: bulk.tenant, bulkId: bulk.id, page: 0 })
    .catch((error: unknown) => {
      // The bulk is recorded: answering an error would invite a second one. The sweeper sends it.
      svc.log.error("could not send a bulk's first page; the sweeper will", { bulkId: bulk.id, error });
    });
  return { bulk, matched: first.runs.length, matchedAll: first.cursor === undefined };
}

/** A bulk of the caller's tenant; another tenant's is simply not found. */
export async function getBulk(svc: Services, caller: TenantPrincipal, id: string): Promise<BulkRecord> {
  const bulk = await svc.bulks.get(caller.tenant, id);
  if (bulk === undefined) throw new NotFoundError(`bulk action "${id}" does not exist`);
  return bulk;
}

const DONE: DeliveryResult = { kind: "done" };

/** One delivery of a bulk's page message: do the page if it is the bulk's next one. */
export async function processBulkPage(svc: Services, message: BulkPageMessage): Promise<DeliveryResult> {
  const bulk = await svc.bulks.get(message.tenant, message.bulkId);
  // Ended, or this page was saved already (a duplicate, or a try that lost): nothing to do.
  if (bulk === undefined || bulk.status !== "running" || bulk.page !== message.page) return DONE;

  let page: { runs: RunSummary[]; cursor?: string };
  try {
    page = await matchingPage(svc, bulk, bulk.cursor);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    // A cursor the listing no longer reads will not read on a retry either.
    await save(svc, bulk, emptyTally(), { failed: error.message });
    return DONE;
  }
  let tally: BulkTally;
  try {
    tally = await actOnPage(svc, bulk, page.runs);
  } catch (error) {
    // The tenant's start rate ran out mid-page: do the page again once it has room. What was
    // done already is found done then (and takes no second start).
    if (error instanceof RateLimitedError) {
      return { kind: "later", seconds: Math.max(1, error.retryAfterSeconds ?? 1) };
    }
    throw error;
  }
  const saved = await save(
    svc,
    bulk,
    tally,
    page.cursor === undefined ? { done: true } : { cursor: page.cursor },
  );
  if (saved !== undefined && saved.status === "running") {
    await svc.queue.enqueueBulkPage({ tenant: bulk.tenant, bulkId: bulk.id, page: saved.page });
  }
  return DONE;
}

/**
 * The sweeper's part: bulks that saved no page by their `sweepAt` (their message was lost, or
 * never sent) get their current page's message again. Moving sweepAt first decides which of two
 * sweepers sends it; a message too many is a duplicate, which the page number absorbs.
 */
export async function sweepBulks(svc: Services, now: Date, limit: number): Promise<number> {
  let resent = 0;
  for (const ref of await svc.bulks.dueForSweep(now.toISOString(), limit)) {
    const bulk = await svc.bulks.get(ref.tenant, ref.id);
    if (bulk?.status !== "running" || bulk.sweepAt === undefined) continue;
    if (!(await svc.bulks.moveSweepAt(ref, { page: bulk.page, was: bulk.sweepAt }, stallDeadline(now))))
      continue;
    await svc.queue.enqueueBulkPage({ tenant: bulk.tenant, bulkId: bulk.id, page: bulk.page });
    resent += 1;
  }
  return resent;
}

function stallDeadline(now: Date): string {
  return new Date(now.getTime() + BULK_LIMITS.stallSeconds * 1000).toISOString();
}

/**
 * The next page of the bulk's tenant's runs that its filter matches, newest first. Status and
 * definition are the listing's own filters, the creation times bound its sort key (never later
 * than the bulk's start), and the queue is checked on each run read.
 */
async function matchingPage(
  svc: Services,
  bulk: BulkRecord,
  cursor?: string,
): Promise<{ runs: RunSummary[]; cursor?: string }> {
  const { filter } = bulk;
  const before =
    filter.createdBefore !== undefined && filter.createdBefore < bulk.createdAt
      ? filter.createdBefore
      : bulk.createdAt;
  const page = await svc.runs.list({
    tenant: bulk.tenant,
    limit: pageSizeOf(svc),
    createdBefore: before,
    ...(filter.status === undefined ? {} : { status: filter.status }),
    ...(filter.definition === undefined ? {} : { definition: filter.definition }),
    ...(filter.createdAfter === undefined ? {} : { createdAfter: filter.createdAfter }),
    ...(cursor === undefined ? {} : { cursor }),
  });
  const runs =
    filter.queue === undefined ? page.items : page.items.filter((run) => run.queue === filter.queue);
  return { runs, ...(page.cursor === undefined ? {} : { cursor: page.cursor }) };
}

async function actOnPage(svc: Services, bulk: BulkRecord, runs: readonly RunSummary[]): Promise<BulkTally> {
  const tally = { ...emptyTally(), matched: runs.length };
  if (bulk.dryRun) return tally;
  const act = bulk.action === "cancel" ? cancelOne : replayOne;
  for (let i = 0; i < runs.length; i += ACTS_AT_ONCE) {
    const outcomes = await Promise.all(runs.slice(i, i + ACTS_AT_ONCE).map((run) => act(svc, bulk, run)));
    for (const outcome of outcomes) {
      if (outcome.kind === "acted") tally.acted += 1;
      else countReason(outcome.kind === "skipped" ? tally.skipped : tally.failed, outcome.reason);
    }
  }
  return tally;
}

type ActOutcome = { kind: "acted" } | { kind: "skipped" | "failed"; reason: string };
const ACTED: ActOutcome = { kind: "acted" };

/**
 * Cancels one run. A run that ended `cancelled` since the bulk started counts as cancelled by it:
 * that is what a page done a second time finds of its own first try.
 */
async function cancelOne(svc: Services, bulk: BulkRecord, run: RunSummary): Promise<ActOutcome> {
  const ended = (current: RunSummary): ActOutcome =>
    current.status === "cancelled" && (current.endedAt ?? "") >= bulk.createdAt
      ? ACTED
      : { kind: "skipped", reason: "already_ended" };
  if (isTerminal(run.status)) return ended(run);
  try {
    await cancelRun(svc, runCaller(bulk), run.id);
    return ACTED;
  } catch (error) {
    if (error instanceof NotFoundError) return { kind: "skipped", reason: "not_found" };
    if (error instanceof ConflictError) {
      // It ended meanwhile (or kept changing: a later try of the bulk would not do better).
      const current = await svc.runs.get(run);
      return current !== undefined && isTerminal(current.status) ? ended(current) : failedWith(error);
    }
    if (error instanceof BatonError) return failedWith(error);
    throw error;
  }
}

/** Replays one run, as a run whose id names the bulk and the original: at most once per bulk. */
async function replayOne(svc: Services, bulk: BulkRecord, run: RunSummary): Promise<ActOutcome> {
  const ref = { tenant: bulk.tenant, id: bulkReplayRunId(bulk.id, run.id) };
  // Done by an earlier try of this page: found before any start-rate token is taken.
  if ((await svc.runs.get(ref)) !== undefined) return ACTED;
  try {
    await replayTask(svc, runCaller(bulk), run.id, {}, { id: ref.id });
    return ACTED;
  } catch (error) {
    if (error instanceof RateLimitedError) throw error;
    // Another try of this page created it first.
    if (error instanceof ConflictError && (await svc.runs.get(ref)) !== undefined) return ACTED;
    if (error instanceof NotFoundError) return { kind: "skipped", reason: "not_found" };
    if (error instanceof BatonError) return failedWith(error);
    throw error;
  }
}

function failedWith(error: BatonError): ActOutcome {
  return { kind: "failed", reason: error.code };
}

/**
 * Saves a page: tallies added, the cursor moved (or the bulk ended), if the record is still at
 * that page. The saved record, or undefined when another try saved the page first.
 */
async function save(
  svc: Services,
  bulk: BulkRecord,
  tally: BulkTally,
  next: { cursor: string } | { done: true } | { failed: string },
): Promise<BulkRecord | undefined> {
  const now = svc.clock.now();
  const at = now.toISOString();
  const { cursor: _cursor, sweepAt: _sweepAt, ...rest } = bulk;
  const record: BulkRecord = {
    ...rest,
    ...addTally(bulk, tally),
    page: bulk.page + 1,
    updatedAt: at,
    ...("cursor" in next
      ? { cursor: next.cursor, sweepAt: stallDeadline(now) }
      : "failed" in next
        ? { status: "failed", endedAt: at, error: next.failed }
        : { status: "done", endedAt: at }),
  };
  return (await svc.bulks.savePage(record, bulk.page)) ? record : undefined;
}
