/** Cron firings of definitions. */
import { createHash } from "node:crypto";
import { ConflictError, QueueFullError, RateLimitedError } from "../core/errors.ts";
import type { StartRefusal } from "../core/lifecycle.ts";
import { recordRefusedStart, startRun } from "./engine.ts";
import type { Services } from "./services.ts";

export type FiringOutcome = "started" | "queue_full" | "rate_limited" | "duplicate" | "no_schedule";

/**
 * A definition's cron schedule fired for `firedAt`. The run id is derived from the definition and
 * the firing minute, so a second delivery of the same firing creates nothing. A firing refused by
 * a full waiting line or by the tenant's start rate is recorded as a `failed` run (`queue_full`,
 * `rate_limited`), so it shows in the task list.
 */
export async function startScheduled(
  svc: Services,
  firing: { tenant: string; definition: string; firedAt: Date },
): Promise<FiringOutcome> {
  const definition = await svc.definitions.get(firing.tenant, firing.definition);
  if (definition?.schedule === undefined) return "no_schedule";
  const minute = Math.floor(firing.firedAt.getTime() / 60_000);
  const id = `cron-${createHash("sha256").update(`${firing.tenant}/${firing.definition}/${minute}`).digest("hex").slice(0, 26)}`;
  const caller = { kind: "tenant", tenant: firing.tenant, role: "runner", keyId: "schedule" } as const;
  const input = { definition: definition.name, params: definition.schedule.params ?? {} };
  const how = { trigger: "schedule", id } as const;
  let refusal: StartRefusal;
  try {
    await startRun(svc, caller, input, how);
    return "started";
  } catch (error) {
    if (error instanceof ConflictError) return "duplicate";
    if (error instanceof QueueFullError)
      refusal = { code: "queue_full", message: queueFullMessage(definition.name, error) };
    else if (error instanceof RateLimitedError) {
      refusal = {
        code: "rate_limited",
        message: `the schedule fired beyond its tenant's start rate: ${error.message}`,
      };
    } else throw error;
  }
  try {
    await recordRefusedStart(svc, caller, input, how, refusal);
  } catch (error) {
    if (error instanceof ConflictError) return "duplicate";
    throw error;
  }
  return refusal.code;
}

/** Which line was full: the definition's, or its tenant's (the operator's maxWaiting). */
function queueFullMessage(definition: string, full: QueueFullError): string {
  const details = full.details as { limit?: string; maxWaiting?: number } | undefined;
  return details?.limit === "tenant"
    ? `the schedule fired while the tenant had its maxWaiting of ${details.maxWaiting} runs waiting (a limit the operator set)`
    : `the schedule fired while definition "${definition}" had its maxQueueLength of runs waiting`;
}
