import { z } from "zod";
import { decodeCursor, encodeCursor } from "../aws/cursor.ts";
import type { CounterEffect, CounterStore, Counters, Page } from "../core/ports.ts";
import { jsonCopy } from "./json-copy.ts";

/** DynamoDB's Scan page size in DynamoCounterStore. */
const PAGE_SIZE = 100;

/**
 * Admission counters in memory, one entry per limited definition, with the same conditions as
 * DynamoCounterStore. MemoryRunStore applies counter effects through `refuses` and `apply` in
 * the same synchronous step as the run write, which is what makes them one transaction here.
 */
export class MemoryCounterStore implements CounterStore {
  readonly #items = new Map<string, Counters>();

  async get(tenant: string, definition: string): Promise<Counters | undefined> {
    const item = this.#items.get(counterKey(tenant, definition));
    return item === undefined ? undefined : jsonCopy(item);
  }

  async list(cursor?: string): Promise<Page<Counters>> {
    const after = cursor === undefined ? undefined : decodeCursor(cursor, CountersCursor).pk;
    const keys = [...this.#items.keys()].sort().filter((key) => after === undefined || key > after);
    const page = keys.slice(0, PAGE_SIZE);
    const last = page.length === PAGE_SIZE ? page[page.length - 1] : undefined;
    return {
      items: page.flatMap((key) => {
        const item = this.#items.get(key);
        return item === undefined ? [] : [jsonCopy(item)];
      }),
      ...(last === undefined ? {} : { cursor: encodeCursor({ pk: last }) }),
    };
  }

  async repair(
    counters: Counters,
    values: { running: number; waiting: number; at: string },
  ): Promise<boolean> {
    const key = counterKey(counters.tenant, counters.definition);
    const item = this.#items.get(key);
    // Only if no admission changed them since they were read (a missing item has no version).
    if (item === undefined || item.version !== counters.version) return false;
    this.#items.set(key, {
      ...item,
      running: values.running,
      waiting: values.waiting,
      version: item.version + 1,
      updatedAt: values.at,
    });
    return true;
  }

  /** The first of `effects` whose `require` refuses its change, in order (DynamoRunStore's transaction items). */
  firstRefusing(tenant: string, effects: readonly CounterEffect[]): CounterEffect | undefined {
    return effects.find((effect) => this.refuses(tenant, effect));
  }

  /** Whether `effect.require` refuses the change (DynamoDB's condition on the counters item). */
  refuses(tenant: string, effect: CounterEffect): boolean {
    const item = this.#items.get(counterKey(tenant, effect.definition));
    const require = effect.require ?? {};
    if (require.runningBelow !== undefined && item !== undefined && !(item.running < require.runningBelow))
      return true;
    if (require.waitingBelow !== undefined && item !== undefined && !(item.waiting < require.waitingBelow))
      return true;
    if (require.noneWaiting === true && item !== undefined && item.waiting > 0) return true;
    return false;
  }

  /** Applies a change `refuses` allowed; creates the item on first use, as the DynamoDB update does. */
  apply(tenant: string, effect: CounterEffect): void {
    const key = counterKey(tenant, effect.definition);
    const item = this.#items.get(key);
    this.#items.set(key, {
      tenant,
      definition: effect.definition,
      running: (item?.running ?? 0) + (effect.running ?? 0),
      waiting: (item?.waiting ?? 0) + (effect.waiting ?? 0),
      version: (item?.version ?? 0) + 1,
      updatedAt: effect.at,
    });
  }
}

function counterKey(tenant: string, definition: string): string {
  return `${tenant}#${definition}`;
}

const CountersCursor = z.object({ pk: z.string().max(200) });
