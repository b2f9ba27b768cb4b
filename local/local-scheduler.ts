/**
 * Cron schedules for `npm run dev`: kept in memory and in `<data dir>/schedules.json`, fired by
 * the local runtime's timer loop. Firings missed while the stack was down are skipped, not made
 * up: after a restart each schedule next fires at its next time from now (EventBridge
 * Scheduler, on AWS, never misses them in the first place).
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type CronSchedule, checkSchedule, nextFiring } from "../shared/core/cron.ts";
import type { TaskDefinition } from "../shared/core/definition.ts";
import type { DefinitionScheduler } from "../shared/core/ports.ts";

interface Entry {
  tenant: string;
  definition: string;
  schedule: CronSchedule;
  next: number;
}

export class LocalScheduler implements DefinitionScheduler {
  readonly #entries = new Map<string, Entry>();
  readonly #file: string | undefined;
  readonly #now: () => Date;
  /** Saved entries that could not be kept (tenant/definition), so the stack can say so. */
  readonly skipped: string[] = [];

  constructor(options: { dataDir?: string; now: () => Date }) {
    this.#now = options.now;
    this.#file = options.dataDir === undefined ? undefined : join(options.dataDir, "schedules.json");
    if (this.#file !== undefined && existsSync(this.#file)) {
      const saved = JSON.parse(readFileSync(this.#file, "utf8")) as Omit<Entry, "next">[];
      // One tenant's bad entry (an older version's, a hand edit) is dropped, not fatal to all.
      for (const entry of saved) {
        try {
          this.#set(entry.tenant, entry.definition, entry.schedule);
        } catch {
          this.skipped.push(`${entry.tenant}/${entry.definition}`);
        }
      }
    }
  }

  async put(definition: TaskDefinition): Promise<void> {
    if (definition.schedule === undefined) return this.remove(definition.tenant, definition.name);
    // The same check as the API's: a schedule that cannot fire is the caller's 400, never stored.
    checkSchedule(definition.schedule);
    this.#set(definition.tenant, definition.name, definition.schedule);
    this.#save();
  }

  async remove(tenant: string, definition: string): Promise<void> {
    if (this.#entries.delete(`${tenant}/${definition}`)) this.#save();
  }

  /** Every schedule kept, with its next firing. */
  scheduled(): Array<{ tenant: string; definition: string; cron: string; timezone: string; next: Date }> {
    return [...this.#entries.values()].map(({ tenant, definition, schedule, next }) => ({
      tenant,
      definition,
      cron: schedule.cron,
      timezone: schedule.timezone,
      next: new Date(next),
    }));
  }

  /** The schedules due by now, each with the firing time it is due for; moves them to their next time. */
  due(): Array<{ tenant: string; definition: string; firedAt: Date }> {
    const now = this.#now();
    const fired = [];
    for (const [key, entry] of this.#entries) {
      if (entry.next > now.getTime()) continue;
      fired.push({ tenant: entry.tenant, definition: entry.definition, firedAt: new Date(entry.next) });
      try {
        entry.next = nextFiring(entry.schedule, now).getTime();
      } catch {
        // An entry that has no next time stops alone; every other schedule keeps firing.
        this.#entries.delete(key);
        this.skipped.push(key);
      }
    }
    return fired;
  }

  #set(tenant: string, definition: string, schedule: CronSchedule): void {
    this.#entries.set(`${tenant}/${definition}`, {
      tenant,
      definition,
      schedule,
      next: nextFiring(schedule, this.#now()).getTime(),
    });
  }

  #save(): void {
    if (this.#file === undefined) return;
    const saved = [...this.#entries.values()].map(({ tenant, definition, schedule }) => ({
      tenant,
      definition,
      schedule,
    }));
    // Write then rename: a crash mid-write never leaves half a file.
    writeFileSync(`${this.#file}.tmp`, JSON.stringify(saved, null, 2));
    renameSync(`${this.#file}.tmp`, this.#file);
  }
}
