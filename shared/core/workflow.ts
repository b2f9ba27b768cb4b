/**
 * Workflow definitions: steps (each a definition) with dependencies, a DAG. Pure checks, the
 * step-parameter references `@Step.<stepId>.<outputKey>@`, and the state of a workflow run
 * derived from its steps' runs.
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { ValidationError } from "./errors.ts";
import { NAME_CHARS, Name } from "./names.ts";
import type { RunStatus } from "./run.ts";

export const MAX_WORKFLOW_STEPS = 50;

/**
 * A step of a workflow, the one shape everywhere: in PUT /v1/definitions (strict there, like every
 * request body), on the stored definition and in the run's snapshot of it.
 */
export const WorkflowStep = z.object({
  id: Name,
  definition: Name,
  params: z.record(z.string(), z.unknown()).optional(),
  dependsOn: z.array(Name).max(MAX_WORKFLOW_STEPS).optional(),
});
export type WorkflowStep = z.infer<typeof WorkflowStep>;

/** Unique ids, known dependencies, no cycles; returns the steps in an order that respects them. */
export function checkWorkflow(steps: readonly WorkflowStep[]): WorkflowStep[] {
  if (steps.length === 0) throw new ValidationError("a workflow needs at least one step");
  if (steps.length > MAX_WORKFLOW_STEPS)
    throw new ValidationError(`a workflow has at most ${MAX_WORKFLOW_STEPS} steps`);
  const byId = new Map<string, WorkflowStep>();
  for (const step of steps) {
    if (byId.has(step.id)) throw new ValidationError(`step id "${step.id}" is used twice`);
    byId.set(step.id, step);
  }
  for (const step of steps) {
    for (const dependency of step.dependsOn ?? []) {
      if (!byId.has(dependency))
        throw new ValidationError(`step "${step.id}" depends on unknown step "${dependency}"`);
    }
  }
  // Kahn's algorithm: whatever is left after removing all steps without open dependencies is a cycle.
  const open = new Map(steps.map((step) => [step.id, new Set(step.dependsOn ?? [])]));
  const ordered: WorkflowStep[] = [];
  while (open.size > 0) {
    const ready = [...open.entries()].filter(([, dependencies]) => dependencies.size === 0).map(([id]) => id);
    if (ready.length === 0) {
      throw new ValidationError(
        `the steps ${[...open.keys()].map((id) => `"${id}"`).join(", ")} depend on each other in a cycle`,
      );
    }
    for (const id of ready) {
      open.delete(id);
      for (const dependencies of open.values()) dependencies.delete(id);
      const step = byId.get(id);
      if (step !== undefined) ordered.push(step);
    }
  }
  return ordered;
}

/** A step's run id, derived from the workflow run and the step: starting a step twice creates one run. */
export function stepRunId(workflowRunId: string, stepId: string): string {
  return `${workflowRunId}-${createHash("sha256").update(stepId).digest("hex").slice(0, 12)}`;
}

/** The run of a workflow run's step: its own, or the one a replay kept from the original. */
export function stepRunIdOf(
  workflow: { id: string; keptSteps?: Record<string, string> },
  stepId: string,
): string {
  return workflow.keptSteps?.[stepId] ?? stepRunId(workflow.id, stepId);
}

/** `@Step.<step id>.<output key>@`; the output key may hold dots. */
const REFERENCE_SOURCE = `@Step\\.(${NAME_CHARS})\\.([A-Za-z0-9_.-]{1,128})@`;
const REFERENCE = new RegExp(REFERENCE_SOURCE, "g");
const WHOLE_REFERENCE = new RegExp(`^${REFERENCE_SOURCE}$`);

/**
 * Replaces `@Step.<stepId>.<outputKey>@` in string values (at any depth) with earlier steps'
 * outputs. A value that is exactly one reference takes the output as it is (any JSON type);
 * references inside text become text. A missing output is an error naming it.
 */
export function resolveStepParams(params: unknown, outputs: Readonly<Record<string, unknown>>): unknown {
  if (typeof params === "string") {
    const whole = WHOLE_REFERENCE.exec(params);
    if (whole) return lookup(outputs, whole[1] ?? "", whole[2] ?? "");
    return params.replace(REFERENCE, (_match, step: string, key: string) => {
      const value = lookup(outputs, step, key);
      return typeof value === "string" ? value : JSON.stringify(value);
    });
  }
  if (Array.isArray(params)) return params.map((value) => resolveStepParams(value, outputs));
  if (params !== null && typeof params === "object") {
    return Object.fromEntries(
      Object.entries(params).map(([key, value]) => [key, resolveStepParams(value, outputs)]),
    );
  }
  return params;
}

function lookup(outputs: Readonly<Record<string, unknown>>, step: string, path: string): unknown {
  let value: unknown = outputs[step];
  for (const key of path.split(".")) {
    if (value === null || typeof value !== "object" || !Object.hasOwn(value, key)) {
      throw new ValidationError(`@Step.${step}.${path}@: step "${step}" has no output "${path}"`);
    }
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

export type StepState = RunStatus | "pending";

/** What a workflow run should do next, given its steps' states. */
export type WorkflowPlan =
  | { kind: "start"; steps: WorkflowStep[] }
  | { kind: "succeeded" }
  | { kind: "failed"; step: string; status: StepState }
  | { kind: "wait" };

export function planWorkflow(
  steps: readonly WorkflowStep[],
  states: Readonly<Record<string, StepState>>,
): WorkflowPlan {
  const broken = steps.find((step) =>
    ["failed", "timed_out", "cancelled"].includes(states[step.id] ?? "pending"),
  );
  if (broken !== undefined)
    return { kind: "failed", step: broken.id, status: states[broken.id] ?? "pending" };
  if (steps.every((step) => states[step.id] === "succeeded")) return { kind: "succeeded" };
  const ready = steps.filter(
    (step) =>
      (states[step.id] ?? "pending") === "pending" &&
      (step.dependsOn ?? []).every((dependency) => states[dependency] === "succeeded"),
  );
  return ready.length > 0 ? { kind: "start", steps: ready } : { kind: "wait" };
}
