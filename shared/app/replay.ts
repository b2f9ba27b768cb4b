/**
 * Replay: start a run again as it was started — the same definition, the original's params
 * snapshot (with overrides), its chains — as a new run naming the original (`replayOf`). The
 * original is not touched. A workflow can replay from its failed step: the steps that succeeded
 * keep their runs and outputs, and only the rest run again.
 */

import { ConflictError, ValidationError } from "../core/errors.ts";
import type { ReplayOf } from "../core/lifecycle.ts";
import type { Run } from "../core/run.ts";
import { sealedLookalikeAt } from "../core/sealed.ts";
import { stepRunIdOf } from "../core/workflow.ts";
import { openChainSpecs } from "./chains.ts";
import { type Started, startRun } from "./engine.ts";
import type { TenantPrincipal } from "./identity.ts";
import type { Services } from "./services.ts";
import { findRun } from "./tasks.ts";
import { readSteps } from "./workflows.ts";

export interface ReplayInput {
  /** Params over the original's snapshot (validated like any start's). */
  params?: Record<string, unknown>;
  /** A failed workflow run: keep the steps that succeeded, run the failed one and those after it. */
  fromFailedStep?: boolean;
  idempotencyKey?: string;
}

class SealedParamsReplayError extends ConflictError {
  override readonly code: string = "sealed_params";
}

export async function replayTask(
  svc: Services,
  caller: TenantPrincipal,
  id: string,
  input: ReplayInput,
  options: { id?: string } = {},
): Promise<Started> {
  const original = await findRun(svc, caller, id);
  // Encrypted chain params are sealed to the run they were sent to; opening them here would
  // store them in the clear on the replay, so such a run is started again through its chain.
  if (sealedLookalikeAt(original.params) !== undefined) {
    throw new SealedParamsReplayError(
      `task "${id}" holds encrypted params, which only it can open; start it again from the run whose chain started it`,
    );
  }
  const replay: ReplayOf = { of: original.id, ...(await workflowReplay(svc, original, input)) };
  return startRun(
    svc,
    caller,
    {
      definition: original.definition,
      params: { ...original.params, ...input.params },
      ...(original.queue === undefined ? {} : { queue: original.queue }),
      ...(original.chains === undefined ? {} : { chain: await openChainSpecs(svc, original) }),
      ...(input.idempotencyKey === undefined ? {} : { idempotencyKey: input.idempotencyKey }),
    },
    // An id derived from what asked (a bulk's page): a repeat creates nothing.
    { trigger: "replay", replay, ...(options.id === undefined ? {} : { id: options.id }) },
  );
}

/** What a workflow replay takes over: the original's steps and, from its failed step, the succeeded ones. */
async function workflowReplay(
  svc: Services,
  original: Run,
  input: ReplayInput,
): Promise<Omit<ReplayOf, "of">> {
  if (original.kind !== "workflow") {
    if (input.fromFailedStep === true)
      throw new ValidationError(
        `task "${original.id}" is not a workflow run: fromFailedStep replays workflows only`,
      );
    return {};
  }
  const steps = original.workflowSteps ?? [];
  if (input.fromFailedStep !== true) return { steps };
  if (original.status !== "failed") {
    throw new ConflictError(
      `workflow run "${original.id}" is ${original.status}: only a failed one replays from its failed step`,
    );
  }
  const { states } = await readSteps(svc, original);
  const keptSteps = Object.fromEntries(
    steps
      .filter((step) => states[step.id] === "succeeded")
      .map((step) => [step.id, stepRunIdOf(original, step.id)]),
  );
  return { steps, keptSteps };
}
