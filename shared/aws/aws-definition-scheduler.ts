import {
  CreateScheduleCommand,
  type CreateScheduleCommandInput,
  type SchedulerClient,
  UpdateScheduleCommand,
} from "@aws-sdk/client-scheduler";
import { checkSchedule } from "../core/cron.ts";
import type { TaskDefinition } from "../core/definition.ts";
import type { DefinitionScheduler } from "../core/ports.ts";
import { checkScheduleName } from "./aws-limits.ts";
import {
  deleteScheduleIfAny,
  type ScheduleTargetOptions,
  scheduleName,
  scheduleTarget,
} from "./schedule-names.ts";

/** The payload a cron firing delivers to the trigger Lambda. */
export interface CronTrigger {
  kind: "cron";
  tenant: string;
  definition: string;
  /**
   * The firing's scheduled time, filled in by EventBridge Scheduler: it names the run, so a
   * retried firing (Scheduler's or Lambda's own async retries, minutes later) starts no second run.
   */
  scheduledAt: typeof SCHEDULED_TIME;
}

/** Scheduler replaces this keyword in a target's input with the firing's scheduled time (ISO 8601). */
const SCHEDULED_TIME = "<aws.scheduler.scheduled-time>";

type AwsDefinitionSchedulerOptions = ScheduleTargetOptions & {
  scheduler: SchedulerClient;
  groupName: string;
};

/** One recurring EventBridge Scheduler schedule per scheduled definition, targeting the trigger Lambda. */
export class AwsDefinitionScheduler implements DefinitionScheduler {
  readonly #options: AwsDefinitionSchedulerOptions;

  constructor(options: AwsDefinitionSchedulerOptions) {
    checkScheduleName(options.groupName);
    this.#options = options;
  }

  async put(definition: TaskDefinition): Promise<void> {
    if (definition.schedule === undefined) return this.remove(definition.tenant, definition.name);
    const payload: CronTrigger = {
      kind: "cron",
      tenant: definition.tenant,
      definition: definition.name,
      scheduledAt: SCHEDULED_TIME,
    };
    const input: CreateScheduleCommandInput = {
      Name: scheduleName("cron", definition.tenant, definition.name),
      GroupName: this.#options.groupName,
      ScheduleExpression: checkSchedule(definition.schedule).eventBridge,
      ScheduleExpressionTimezone: definition.schedule.timezone,
      FlexibleTimeWindow: { Mode: "OFF" },
      Target: scheduleTarget(this.#options, payload),
    };
    try {
      await this.#options.scheduler.send(new CreateScheduleCommand(input));
    } catch (error) {
      if (!(error instanceof Error && error.name === "ConflictException")) throw error;
      await this.#options.scheduler.send(new UpdateScheduleCommand(input));
    }
  }

  async remove(tenant: string, definition: string): Promise<void> {
    await deleteScheduleIfAny(
      this.#options.scheduler,
      this.#options.groupName,
      scheduleName("cron", tenant, definition),
    );
  }
}
