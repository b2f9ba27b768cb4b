import type { DestinationRecord } from "../core/destination.ts";
import { ConflictError } from "../core/errors.ts";
import type { DestinationStore } from "../core/ports.ts";
import { jsonCopy } from "./json-copy.ts";

/** Upload destinations by tenant and name, in memory; a replace names the version it read. */
export class MemoryDestinationStore implements DestinationStore {
  readonly #destinations = new Map<string, DestinationRecord>();

  async put(destination: DestinationRecord, replaces: string | undefined): Promise<void> {
    const key = keyOf(destination.tenant, destination.name);
    const stored = this.#destinations.get(key);
    if (replaces === undefined ? stored !== undefined : stored?.updatedAt !== replaces) {
      throw new ConflictError(`destination "${destination.name}" changed meanwhile; send the PUT again`);
    }
    this.#destinations.set(key, jsonCopy(destination));
  }

  async get(tenant: string, name: string): Promise<DestinationRecord | undefined> {
    const stored = this.#destinations.get(keyOf(tenant, name));
    return stored === undefined ? undefined : jsonCopy(stored);
  }

  async delete(tenant: string, name: string): Promise<boolean> {
    return this.#destinations.delete(keyOf(tenant, name));
  }

  async list(tenant: string): Promise<DestinationRecord[]> {
    return [...this.#destinations.values()]
      .filter((destination) => destination.tenant === tenant)
      .sort((a, b) => (a.name < b.name ? -1 : 1))
      .map(jsonCopy);
  }
}

function keyOf(tenant: string, name: string): string {
  return `${tenant}\n${name}`;
}
