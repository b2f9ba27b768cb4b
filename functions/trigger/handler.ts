/**
 * The trigger Lambda: delayed starts fall due here, from the SQS delay queue (up to 15 minutes)
 * or from an EventBridge Scheduler one-time schedule (longer); and definitions' cron schedules
 * fire here from their recurring EventBridge schedules.
 */
import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import { z } from "zod";
import { startDue } from "../../shared/app/engine.ts";
import { withLogContext } from "../../shared/app/log-context.ts";
import { startScheduled } from "../../shared/app/schedules.ts";
import type { Services } from "../../shared/app/services.ts";

const CronTrigger = z.object({
  kind: z.literal("cron"),
  tenant: z.string().min(1),
  definition: z.string().min(1),
  // Filled in by EventBridge Scheduler; absent from schedules made before it was added.
  scheduledAt: z.iso.datetime({ offset: true }).optional(),
});
const StartTrigger = z.object({
  kind: z.literal("start"),
  tenant: z.string().min(1),
  runId: z.string().min(1),
});

export type TriggerHandler = (event: unknown) => Promise<SQSBatchResponse | { outcome: string }>;

export function createTriggerHandler(svc: Services): TriggerHandler {
  // A delayed start falling due, with the run's keys on every line it logs.
  const startTriggered = (trigger: z.infer<typeof StartTrigger>, keys: { messageId?: string } = {}) =>
    withLogContext({ tenant: trigger.tenant, taskId: trigger.runId, ...keys }, () =>
      startDue(svc, { tenant: trigger.tenant, id: trigger.runId }),
    );
  return async (event) => {
    if (isSqsEvent(event)) {
      const failures: { itemIdentifier: string }[] = [];
      for (const record of event.Records) {
        const trigger = parse(record.body);
        if (trigger === undefined) {
          svc.log.error("dropping an unreadable trigger message", { messageId: record.messageId });
          continue;
        }
        try {
          // "not_due" (a clock ahead of SQS): fail the record so SQS delivers it again later.
          if ((await startTriggered(trigger, { messageId: record.messageId })) === "not_due") {
            failures.push({ itemIdentifier: record.messageId });
          }
        } catch (error) {
          svc.log.error("delayed start failed; SQS will deliver it again", {
            error,
            tenant: trigger.tenant,
            taskId: trigger.runId,
          });
          failures.push({ itemIdentifier: record.messageId });
        }
      }
      return { batchItemFailures: failures };
    }
    const cron = CronTrigger.safeParse(event);
    if (cron.success) {
      // Scheduler fires on the minute; the firing's minute names the run, so a repeat is a no-op.
      // The scheduled time, not the time of arrival: a retried invocation arrives minutes later.
      const { scheduledAt, ...target } = cron.data;
      const keys = { tenant: target.tenant, definition: target.definition };
      const firing = {
        ...target,
        firedAt: scheduledAt === undefined ? svc.clock.now() : new Date(scheduledAt),
      };
      return { outcome: await withLogContext(keys, () => startScheduled(svc, firing)) };
    }
    const trigger = StartTrigger.safeParse(event);
    if (!trigger.success) {
      svc.log.error("ignoring an unknown trigger event", { event: JSON.stringify(event).slice(0, 500) });
      return { outcome: "ignored" };
    }
    return { outcome: await startTriggered(trigger.data) };
  };
}

function isSqsEvent(event: unknown): event is SQSEvent {
  return typeof event === "object" && event !== null && Array.isArray((event as SQSEvent).Records);
}

function parse(body: string): z.infer<typeof StartTrigger> | undefined {
  try {
    const result = StartTrigger.safeParse(JSON.parse(body));
    return result.success ? result.data : undefined;
  } catch {
    return undefined;
  }
}
