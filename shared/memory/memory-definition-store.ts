import { z } from "zod";
import { decodeCursor, encodeCursor } from "../aws/cursor.ts";
import { TaskDefinition } from "../core/definition.ts";
import { fitBytes } from "../core/limits.ts";
import type { DefinitionStore, Page } from "../core/ports.ts";
import { jsonCopy } from "./json-copy.ts";

/** Definitions in memory, listed by name a page at a time, as DynamoDefinitionStore lists them. */
export class MemoryDefinitionStore implements DefinitionStore {
  readonly #items = new Map<string, TaskDefinition>();

  async put(definition: TaskDefinition): Promise<{ created: boolean }> {
    const key = keyOf(definition.tenant, definition.name);
    const created = !this.#items.has(key);
    this.#items.set(key, jsonCopy(definition));
    return { created };
  }

  async get(tenant: string, name: string): Promise<TaskDefinition | undefined> {
    const item = this.#items.get(keyOf(tenant, name));
    return item === undefined ? undefined : TaskDefinition.parse(jsonCopy(item));
  }

  async delete(tenant: string, name: string): Promise<boolean> {
    return this.#items.delete(keyOf(tenant, name));
  }

  async list(
    tenant: string,
    page: { limit: number; cursor?: string; maxBytes?: number },
  ): Promise<Page<TaskDefinition>> {
    const after = page.cursor === undefined ? undefined : decodeCursor(page.cursor, DefinitionCursor).name;
    const items = [...this.#items.values()]
      .filter((item) => item.tenant === tenant && (after === undefined || item.name > after))
      .sort((a, b) => (a.name < b.name ? -1 : 1))
      .slice(0, page.limit)
      .map((item) => TaskDefinition.parse(jsonCopy(item)));
    const kept = fitBytes(items, page.maxBytes);
    // Cut short by size: the next page starts after the last one kept. Else, like DynamoDB, a
    // page that reached its Limit has a last evaluated key.
    const last =
      kept.length < items.length
        ? kept[kept.length - 1]
        : items.length === page.limit
          ? items.at(-1)
          : undefined;
    return {
      items: kept,
      ...(last === undefined ? {} : { cursor: encodeCursor({ name: last.name }) }),
    };
  }
}

const DefinitionCursor = z.object({ name: z.string().max(64) });

function keyOf(tenant: string, name: string): string {
  return `${tenant}#${name}`;
}
