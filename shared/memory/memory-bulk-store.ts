import type { BulkRecord } from "../core/bulk.ts";
import type { BulkRef, BulkStore } from "../core/ports.ts";
import { jsonCopy } from "./json-copy.ts";

/** Bulk records in memory, with the conditions DynamoBulkStore writes under. */
export class MemoryBulkStore implements BulkStore {
  readonly #bulks = new Map<string, BulkRecord>();
  readonly #running = new Map<string, Set<string>>();

  async create(bulk: BulkRecord, maxRunning: number): Promise<boolean> {
    const key = `${bulk.tenant}/${bulk.id}`;
    const running = this.#running.get(bulk.tenant) ?? new Set<string>();
    if (this.#bulks.has(key) || running.size >= maxRunning) return false;
    this.#bulks.set(key, jsonCopy(bulk));
    running.add(bulk.id);
    this.#running.set(bulk.tenant, running);
    return true;
  }

  async get(tenant: string, id: string): Promise<BulkRecord | undefined> {
    const bulk = this.#bulks.get(`${tenant}/${id}`);
    return bulk === undefined ? undefined : jsonCopy(bulk);
  }

  async savePage(next: BulkRecord, expectedPage: number): Promise<boolean> {
    const key = `${next.tenant}/${next.id}`;
    const current = this.#bulks.get(key);
    if (current?.status !== "running" || current.page !== expectedPage) return false;
    const { sweepAt: _sweepAt, ...ended } = next;
    this.#bulks.set(key, jsonCopy(next.status === "running" ? next : ended));
    if (next.status !== "running") this.#running.get(next.tenant)?.delete(next.id);
    return true;
  }

  async dueForSweep(now: string, limit: number): Promise<BulkRef[]> {
    return [...this.#bulks.values()]
      .filter((bulk) => bulk.status === "running" && bulk.sweepAt !== undefined && bulk.sweepAt <= now)
      .sort((a, b) => ((a.sweepAt ?? "") < (b.sweepAt ?? "") ? -1 : 1))
      .slice(0, limit)
      .map((bulk) => ({ tenant: bulk.tenant, id: bulk.id }));
  }

  async moveSweepAt(ref: BulkRef, expect: { page: number; was: string }, sweepAt: string): Promise<boolean> {
    const bulk = this.#bulks.get(`${ref.tenant}/${ref.id}`);
    if (bulk?.status !== "running" || bulk.page !== expect.page || bulk.sweepAt !== expect.was) return false;
    bulk.sweepAt = sweepAt;
    return true;
  }
}
