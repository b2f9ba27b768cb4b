/**
 * The workflow engine. A workflow run's state is derived from its steps' runs, whose ids follow
 * from the workflow run and the step (stepRunId), so `reconcileWorkflow` can always look at
 * every step, start those whose dependencies succeeded, and end the workflow run when a step
 * fails or all succeeded. It runs whenever a step ends, and from the sweeper as a backstop; it is
 * idempotent (a step started twice is one run; every write is guarded on the run's updatedAt).
 *
 * Starting and cancelling step runs are passed in (`WorkflowOps`) because those use cases also
 * start and cancel workflows: this keeps the modules free of import cycles.
 */
import { BatonError, ConflictError } from "../core/errors.ts";
import { type Ending, ended, provenanceFrom } from "../core/lifecycle.ts";
import { jsonBytes, LIMITS } from "../core/limits.ts";
import type { RunPatch } from "../core/ports.ts";
import { isTerminal, type Run, type RunRef } from "../core/run.ts";
import type { RunErrorCode } from "../core/run-errors.ts";
import { planWorkflow, resolveStepParams, type StepState, stepRunId, stepRunIdOf } from "../core/workflow.ts";
import type { StartHow } from "./engine.ts";
import { runCaller, type TenantPrincipal } from "./identity.ts";
import type { Services } from "./services.ts";

/** The engine's start, end and cancel (passed in: the engine also calls into this module). */
export interface WorkflowOps {
  start(
    svc: Services,
    caller: TenantPrincipal,
    input: { definition: string; params?: Record<string, unknown> },
    how: StartHow,
  ): Promise<unknown>;
  end(svc: Services, run: Run, ending: Ending): Promise<boolean>;
  cancel(svc: Services, caller: TenantPrincipal, id: string): Promise<unknown>;
}

const ACTIVE = new Set<StepState>(["scheduled", "waiting", "queued", "running", "awaiting"]);

/**
 * Derives the workflow run from its steps (above). `created` is the run this process has just
 * created: the first round takes it as read and, unless it keeps steps of a replayed run, knows
 * that no step has a run yet, so a workflow's start reads nothing back (issue #14).
 * Returns the workflow run, with its steps' live states, when this wrote nothing to it; undefined
 * when it wrote (or found no workflow), so a caller that shows the run reads it again.
 */
export async function reconcileWorkflow(
  svc: Services,
  ref: RunRef,
  ops: WorkflowOps,
  created?: Run,
): Promise<Run | undefined> {
  for (let round = 0; round < 5; round += 1) {
    const fresh = round === 0 ? created : undefined;
    const workflow = fresh ?? (await svc.runs.get(ref));
    if (workflow?.kind !== "workflow") return undefined;
    const steps = workflow.workflowSteps ?? [];
    const { states, outputs } =
      fresh !== undefined && fresh.keptSteps === undefined
        ? { states: Object.fromEntries(steps.map((step) => [step.id, "pending" as StepState])), outputs: {} }
        : await readSteps(svc, workflow);
    if (isTerminal(workflow.status)) {
      // Ended already: only keep the steps' statuses shown on it current (a cancelled step ends later).
      const shown = shownAfterEnd(states);
      if (JSON.stringify(shown) === JSON.stringify(workflow.stepStatus)) return undefined;
      const guard = { status: workflow.status, attempts: workflow.attempts, updatedAt: workflow.updatedAt };
      if ((await svc.runs.update(workflow, guard, { stepStatus: shown })) !== undefined) return undefined;
      continue;
    }
    const caller = runCaller(workflow);
    const now = svc.clock.now();
    const plan = planWorkflow(steps, states);
    const guard = { status: "running", attempts: workflow.attempts, updatedAt: workflow.updatedAt } as const;

    if (plan.kind === "start") {
      let failure: { step: string; message: string } | undefined;
      for (const step of plan.steps) {
        try {
          const params = resolveStepParams(step.params ?? {}, outputs) as Record<string, unknown>;
          await ops.start(
            svc,
            caller,
            { definition: step.definition, params },
            {
              trigger: "workflow",
              id: stepRunId(workflow.id, step.id),
              origin: provenanceFrom(workflow, `step:${step.id}`),
              parent: { id: workflow.id, step: step.id },
            },
          );
          states[step.id] = "queued";
        } catch (error) {
          if (error instanceof ConflictError) continue; // started already (by a concurrent reconcile)
          if (!(error instanceof BatonError)) throw error;
          failure = { step: step.id, message: error.message };
          break;
        }
      }
      if (failure !== undefined) {
        if (
          await endWorkflow(
            svc,
            workflow,
            guard,
            states,
            "step_failed_to_start",
            `step "${failure.step}" could not start: ${failure.message}`,
            ops,
          )
        )
          return undefined;
        continue;
      }
    }
    if (plan.kind === "failed") {
      const message = `step "${plan.step}" ended ${plan.status}; the steps after it do not start`;
      if (await endWorkflow(svc, workflow, guard, states, "step_failed", message, ops)) return undefined;
      continue;
    }
    const patch: RunPatch = {
      stepStatus: states,
      progress:
        steps.length === 0
          ? 1
          : steps.filter((step) => states[step.id] === "succeeded").length / steps.length,
      updatedAt: now.toISOString(),
    };
    if (plan.kind === "succeeded" && jsonBytes(outputs) > LIMITS.outputBytes) {
      // Its output is every step's together: bounded like a handler's, or no GET could answer it.
      const message = `the steps' outputs together exceed ${LIMITS.outputBytes} bytes`;
      if (await endWorkflow(svc, workflow, guard, states, "output_too_large", message, ops)) return;
      continue;
    }
    if (plan.kind === "succeeded") {
      const final = { ...patch, ...ended(workflow, "succeeded", now), output: outputs };
      if (await ops.end(svc, workflow, { guard, patch: final })) return undefined;
    } else if (onlyStepsStarted(workflow, states, patch.progress ?? 0)) {
      // Nothing a reader sees would change: a running workflow's steps are shown live
      // (withLiveSteps) and its stored statuses catch up when a step ends. Skipping the write saves
      // every workflow's start one (issue #14); the steps' starts are idempotent by their ids.
      return { ...workflow, stepStatus: states };
    } else if ((await svc.runs.update(workflow, guard, patch)) !== undefined) return undefined;
    // Someone else changed the workflow run meanwhile: derive it again from fresh state.
  }
  return undefined;
}

/** Fails the workflow run (its steps that never started show cancelled); the engine stops the active ones. */
async function endWorkflow(
  svc: Services,
  workflow: Run,
  guard: { status: "running"; attempts: number; updatedAt: string },
  states: Record<string, StepState>,
  code: RunErrorCode,
  message: string,
  ops: WorkflowOps,
): Promise<boolean> {
  const patch = {
    ...ended(workflow, "failed", svc.clock.now(), { code, message }),
    stepStatus: shownAfterEnd(states),
  };
  return ops.end(svc, workflow, { guard, patch });
}

/** Cancels the steps of an ended workflow run that are still going (after its end, from the engine). */
export async function cancelActiveSteps(svc: Services, workflow: Run, ops: WorkflowOps): Promise<void> {
  const { states } = await readSteps(svc, workflow);
  for (const [step, state] of Object.entries(states)) {
    if (!ACTIVE.has(state)) continue;
    await ops.cancel(svc, runCaller(workflow), stepRunId(workflow.id, step)).catch((error: unknown) => {
      if (!(error instanceof ConflictError)) throw error; // it ended meanwhile
    });
  }
}

/** Cancels a workflow run; the engine then cancels its active steps, and the rest never start. */
export async function cancelWorkflowRun(svc: Services, workflow: Run, ops: WorkflowOps): Promise<boolean> {
  const { states } = await readSteps(svc, workflow);
  const guard = { status: "running", attempts: workflow.attempts, updatedAt: workflow.updatedAt } as const;
  const patch = { ...ended(workflow, "cancelled", svc.clock.now()), stepStatus: shownAfterEnd(states) };
  return ops.end(svc, workflow, { guard, patch });
}

/**
 * A workflow run with its steps' statuses read from the steps themselves: the statuses stored on
 * it are only updated when a step ends, so a running one would show as it was when it started.
 */
export async function withLiveSteps(svc: Services, workflow: Run): Promise<Run> {
  if (workflow.kind !== "workflow" || isTerminal(workflow.status)) return workflow;
  return { ...workflow, stepStatus: (await readSteps(svc, workflow)).states };
}

/** Each step's status (pending until its run exists) and the outputs of those that succeeded. */
export async function readSteps(
  svc: Services,
  workflow: Run,
): Promise<{ states: Record<string, StepState>; outputs: Record<string, unknown> }> {
  const steps = workflow.workflowSteps ?? [];
  const children = await Promise.all(
    steps.map((step) => svc.runs.get({ tenant: workflow.tenant, id: stepRunIdOf(workflow, step.id) })),
  );
  const states: Record<string, StepState> = {};
  const outputs: Record<string, unknown> = {};
  steps.forEach((step, index) => {
    const child = children[index];
    states[step.id] = child?.status ?? "pending";
    if (child?.status === "succeeded") outputs[step.id] = child.output;
  });
  return { states, outputs };
}

/** Whether the derived state differs from the stored one only by steps that left `pending` for an unfinished status. */
function onlyStepsStarted(workflow: Run, states: Record<string, StepState>, progress: number): boolean {
  if (progress !== (workflow.progress ?? 0)) return false;
  const stored = workflow.stepStatus ?? {};
  return Object.entries(states).every(
    ([step, state]) =>
      state === stored[step] || (stored[step] === "pending" && state !== "pending" && !isTerminal(state)),
  );
}

/** The statuses an ended workflow shows: a step that never started is shown cancelled. */
function shownAfterEnd(states: Record<string, StepState>): Record<string, StepState> {
  return Object.fromEntries(
    Object.entries(states).map(([step, state]) => [step, state === "pending" ? "cancelled" : state]),
  );
}
