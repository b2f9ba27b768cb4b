import type { CronSchedule } from "../core/cron.ts";
import type { TaskDefinition } from "../core/definition.ts";
import type { DefinitionScheduler } from "../core/ports.ts";

/** Definitions' cron schedules in memory: which are set. Firing them is startScheduled's job. */
export class MemoryDefinitionScheduler implements DefinitionScheduler {
  readonly #schedules = new Map<string, { tenant: string; definition: string; schedule: CronSchedule }>();

  async put(definition: TaskDefinition): Promise<void> {
    if (definition.schedule === undefined) return this.remove(definition.tenant, definition.name);
    this.#schedules.set(keyOf(definition.tenant, definition.name), {
      tenant: definition.tenant,
      definition: definition.name,
      schedule: structuredClone(definition.schedule),
    });
  }

  async remove(tenant: string, definition: string): Promise<void> {
    this.#schedules.delete(keyOf(tenant, definition));
  }

  /** The schedule set for a definition, if any. */
  get(tenant: string, definition: string): CronSchedule | undefined {
    const entry = this.#schedules.get(keyOf(tenant, definition));
    return entry === undefined ? undefined : structuredClone(entry.schedule);
  }
}

function keyOf(tenant: string, definition: string): string {
  return `${tenant}/${definition}`;
}
