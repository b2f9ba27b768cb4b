/** Values that many unit tests build the same way. */
import type { TaskDefinition } from "../../shared/core/definition.ts";
import { newRun } from "../../shared/core/lifecycle.ts";
import type { Run } from "../../shared/core/run.ts";

/** Definition "report" of tenant "acme" on the echo handler: 3 attempts, 60 s, no limits. */
export function reportDefinition(overrides: Partial<TaskDefinition> = {}): TaskDefinition {
  return {
    tenant: "acme",
    name: "report",
    handler: "echo",
    params: {},
    maxAttempts: 3,
    timeoutSeconds: 60,
    createdAt: "2026-01-01T00:00:00.000Z",
    updatedAt: "2026-01-01T00:00:00.000Z",
    ...overrides,
  };
}

/** Run "r1" of tenant "acme", queued at `now`, of a definition "d" with no params. */
export function queuedRun(now: Date): Run {
  return newRun(
    {
      tenant: "acme",
      id: "r1",
      definition: reportDefinition({ name: "d", createdAt: "", updatedAt: "" }),
      params: {},
      createdBy: "k",
    },
    "queued",
    now,
  );
}
