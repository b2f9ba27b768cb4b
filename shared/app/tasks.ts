/** Starting and reading runs. */
import { NotFoundError, PayloadTooLargeError, UnavailableError, ValidationError } from "../core/errors.ts";
import { newRun } from "../core/lifecycle.ts";
import { jsonBytes, LIMITS } from "../core/limits.ts";
import type { Page, RunListQuery } from "../core/ports.ts";
import type { Run, RunStatus } from "../core/run.ts";
import type { TenantPrincipal } from "./identity.ts";
import type { Services } from "./services.ts";

export class UnknownDefinitionError extends ValidationError {
  override readonly code: string = "unknown_definition";
}

export interface StartInput {
  definition: string;
  params?: Record<string, unknown>;
  queue?: string;
}

/**
 * Writes the run, then sends its message. If the send fails the run is removed again, so a
 * start either fully happens or leaves nothing behind.
 */
export async function startTask(svc: Services, caller: TenantPrincipal, input: StartInput): Promise<Run> {
  const definition = await svc.definitions.get(caller.tenant, input.definition);
  if (definition === undefined) {
    throw new UnknownDefinitionError(
      `definition "${input.definition}" does not exist in tenant "${caller.tenant}"`,
    );
  }
  if (svc.registry.get(definition.handler) === undefined) {
    throw new ValidationError(
      `definition "${definition.name}" uses handler "${definition.handler}", which this deployment does not register`,
    );
  }
  const params = { ...definition.params, ...input.params };
  if (jsonBytes(params) > LIMITS.paramsBytes) {
    throw new PayloadTooLargeError(`params exceed ${LIMITS.paramsBytes} bytes (defaults included)`);
  }
  svc.registry.parseParams(definition.handler, params);

  const run = newRun(
    {
      tenant: caller.tenant,
      id: svc.newId(),
      definition,
      params: input.params ?? {},
      ...(input.queue === undefined ? {} : { queue: input.queue }),
      createdBy: caller.keyId,
    },
    svc.clock.now(),
  );
  await svc.runs.create(run);
  try {
    await svc.queue.enqueue({
      tenant: run.tenant,
      runId: run.id,
      ...(run.queue === undefined ? {} : { queue: run.queue }),
    });
  } catch (error) {
    svc.log.error("enqueue failed; removing the run", { tenant: run.tenant, taskId: run.id, error });
    await svc.runs.remove(run, { status: "queued", attempts: 0 });
    throw new UnavailableError("the run queue did not accept the task; nothing was started, try again", {
      cause: error,
    });
  }
  return run;
}

export async function getTask(svc: Services, caller: TenantPrincipal, id: string): Promise<Run> {
  // Another tenant's run is simply not found under the caller's tenant: 404, never 403.
  const run = await svc.runs.get({ tenant: caller.tenant, id });
  if (run === undefined) throw new NotFoundError(`task "${id}" does not exist`);
  return run;
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
