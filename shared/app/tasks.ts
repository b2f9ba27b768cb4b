/** The tasks API's use cases: start, read, list and cancel runs (the engine does the work). */
import { ConflictError, NotFoundError } from "../core/errors.ts";
import type { Page, RunListQuery, StartedRun } from "../core/ports.ts";
import { isTerminal, type Run, type RunStatus, type RunSummary } from "../core/run.ts";
import { stepRunId } from "../core/workflow.ts";
import { cancelRun, type Started, type StartInput, startRun } from "./engine.ts";
import type { TenantPrincipal } from "./identity.ts";
import type { Services } from "./services.ts";
import { withLiveSteps } from "./workflows.ts";

/** A start over the API (POST /v1/tasks, and the CLI and client that call it). */
export function startTask(svc: Services, caller: TenantPrincipal, input: StartInput): Promise<Started> {
  return startRun(svc, caller, input, { trigger: "api" });
}

/** A run of the caller's tenant as stored; another tenant's run is simply not found (404, never 403). */
export async function findRun(svc: Services, caller: TenantPrincipal, id: string): Promise<Run> {
  const run = await svc.runs.get({ tenant: caller.tenant, id });
  if (run === undefined) throw new NotFoundError(`task "${id}" does not exist`);
  return run;
}

/** A run as shown to its owner: a workflow with the live status of each step. */
export async function getTask(svc: Services, caller: TenantPrincipal, id: string): Promise<Run> {
  return withLiveSteps(svc, await findRun(svc, caller, id));
}

export function listTasks(
  svc: Services,
  caller: TenantPrincipal,
  query: { status?: RunStatus; definition?: string; limit?: number; cursor?: string },
): Promise<Page<RunSummary>> {
  const listQuery: RunListQuery = {
    tenant: caller.tenant,
    limit: query.limit ?? 20,
    ...(query.status === undefined ? {} : { status: query.status }),
    ...(query.definition === undefined ? {} : { definition: query.definition }),
    ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
  };
  return svc.runs.list(listQuery);
}

/**
 * The runs that a run of the caller's tenant started (chain hops, workflow steps, handler
 * starts), oldest first. A run in another tenant (a chain's hop) is named, never shown.
 */
export async function startedByTask(
  svc: Services,
  caller: TenantPrincipal,
  id: string,
  page: { limit?: number; cursor?: string },
): Promise<Page<StartedRun>> {
  const run = await findRun(svc, caller, id);
  return startedRunsOf(svc, run, {
    limit: page.limit ?? 50,
    ...(page.cursor === undefined ? {} : { cursor: page.cursor }),
  });
}

/** The cursor of a workflow's started list while it is still in its steps: the next step's index. */
const STEPS_CURSOR = /^steps\.(\d{1,3})$/;

/**
 * What a run started, oldest first. A workflow's steps come first, in step order, read by the
 * ids derived from the workflow's (a step run is not in the byOrigin index: that saves a write
 * per step); then the index's entries (chain hops, handler starts, replays). A step run indexed
 * by an older release is not listed twice.
 */
export async function startedRunsOf(
  svc: Services,
  run: Run,
  page: { limit: number; cursor?: string },
): Promise<Page<StartedRun>> {
  if (run.kind !== "workflow") return svc.runs.startedBy(run, page);
  const steps = run.workflowSteps ?? [];
  const ownSteps = new Set(steps.map((step) => stepRunId(run.id, step.id)));
  const fromIndex = async (limit: number, cursor?: string): Promise<Page<StartedRun>> => {
    const indexed = await svc.runs.startedBy(run, { limit, ...(cursor === undefined ? {} : { cursor }) });
    return { ...indexed, items: indexed.items.filter((child) => !ownSteps.has(child.id)) };
  };
  const inSteps = page.cursor === undefined ? ["", "0"] : STEPS_CURSOR.exec(page.cursor);
  if (inSteps === null) return fromIndex(page.limit, page.cursor);
  const first = Number(inSteps[1]);
  // The steps from the cursor on, read side by side (as readSteps does); one not started yet has
  // no run. A replay's steps kept from its original are the original's, not listed here.
  const children = await Promise.all(
    steps.slice(first).map((step) => svc.runs.get({ tenant: run.tenant, id: stepRunId(run.id, step.id) })),
  );
  const items: StartedRun[] = [];
  for (const [offset, child] of children.entries()) {
    if (child === undefined) continue;
    // A cursor only where a started step is still to come: steps not started yet make no page.
    if (items.length === page.limit) return { items, cursor: `steps.${first + offset}` };
    items.push(startedEntryOf(child));
  }
  if (items.length < page.limit) {
    const rest = await fromIndex(page.limit - items.length);
    return { ...rest, items: [...items, ...rest.items] };
  }
  // The page ends on the last started step: a next page only if the index holds something other
  // than steps an older release indexed (at most one entry per step, so one more is enough).
  const indexed = await fromIndex(ownSteps.size + 1);
  return indexed.items.length === 0 ? { items } : { items, cursor: `steps.${steps.length}` };
}

/** A run as a "started" list shows it. */
export function startedEntryOf(child: Run): StartedRun {
  return {
    tenant: child.tenant,
    id: child.id,
    definition: child.definition,
    trigger: child.trigger ?? "api",
    via: child.origin?.via ?? "",
    createdAt: child.createdAt,
  };
}

/** Cancels a run of the caller's tenant (see cancelRun for what that means in each state). */
export function cancelTask(svc: Services, caller: TenantPrincipal, id: string): Promise<Run> {
  return cancelRun(svc, caller, id);
}

/** How many descendants one tree cancel looks at; a larger tree needs the request repeated. */
export const CANCEL_TREE_MAX_RUNS = 1_000;

export interface CancelledTree {
  run: Run;
  /** Descendants this request cancelled (or asked to stop, if running). */
  cancelled: string[];
  /** False when the walk stopped at CANCEL_TREE_MAX_RUNS: repeat the request for the rest. */
  complete: boolean;
}

/**
 * Cancels a run and the runs below it (what it started, what those started, …) in the caller's
 * tenant, breadth first. Runs in other tenants, and what they started, are neither cancelled nor
 * walked: a tenant acts on its own runs only. Ended runs are skipped but walked through (a
 * succeeded run's chains may still run), so a repeat is harmless and picks up what is left.
 */
export async function cancelTaskTree(
  svc: Services,
  caller: TenantPrincipal,
  id: string,
): Promise<CancelledTree> {
  const root = await findRun(svc, caller, id);
  const stop = async (run: Run): Promise<Run | undefined> => {
    if (isTerminal(run.status)) return undefined;
    try {
      return await cancelRun(svc, caller, run.id);
    } catch (error) {
      // It ended meanwhile: nothing to cancel.
      if (error instanceof ConflictError || error instanceof NotFoundError) return undefined;
      throw error;
    }
  };
  const cancelledRoot = (await stop(root)) ?? root;
  const cancelled: string[] = [];
  const pending: Run[] = [root];
  let seen = 0;
  for (let ref = pending.shift(); ref !== undefined; ref = pending.shift()) {
    let cursor: string | undefined;
    do {
      const page = await startedRunsOf(svc, ref, { limit: 100, ...(cursor === undefined ? {} : { cursor }) });
      for (const child of page.items) {
        // A replay is listed beside what a run started, but it is not below it: it stays.
        if (child.tenant !== caller.tenant || child.trigger === "replay") continue;
        if (seen >= CANCEL_TREE_MAX_RUNS) return { run: cancelledRoot, cancelled, complete: false };
        seen += 1;
        const run = await svc.runs.get(child);
        if (run === undefined) continue;
        if ((await stop(run)) !== undefined) cancelled.push(run.id);
        pending.push(run);
      }
      cursor = page.cursor;
    } while (cursor !== undefined);
  }
  return { run: cancelledRoot, cancelled, complete: true };
}
