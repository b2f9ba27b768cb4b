/** The tasks API's use cases: start, read, list and cancel runs (the engine does the work). */
import { NotFoundError } from "../core/errors.ts";
import type { Page, RunListQuery, StartedRun } from "../core/ports.ts";
import type { Run, RunStatus } from "../core/run.ts";
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
): Promise<Page<Run>> {
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
  return svc.runs.startedBy(run, {
    limit: page.limit ?? 50,
    ...(page.cursor === undefined ? {} : { cursor: page.cursor }),
  });
}

/** Cancels a run of the caller's tenant (see cancelRun for what that means in each state). */
export function cancelTask(svc: Services, caller: TenantPrincipal, id: string): Promise<Run> {
  return cancelRun(svc, caller, id);
}
