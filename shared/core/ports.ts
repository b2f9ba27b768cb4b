/**
 * Ports: the only ways core reaches the world. Adapters in shared/aws implement them on AWS SDK v3
 * (DynamoDB, SQS); test/contract holds one suite per port that every adapter must pass.
 */
import type { TaskDefinition } from "./definition.ts";
import type { OnceRecord, Run, RunRef, RunStatus } from "./run.ts";
import type { ApiKeyRecord, Tenant } from "./tenant.ts";

export interface Clock {
  now(): Date;
}

/** Structured logging; Powertools' Logger fits it, tests may pass a silent one. */
export interface Log {
  debug(message: string, ...extra: Record<string, unknown>[]): void;
  info(message: string, ...extra: Record<string, unknown>[]): void;
  warn(message: string, ...extra: Record<string, unknown>[]): void;
  error(message: string, ...extra: Record<string, unknown>[]): void;
}

export interface Page<T> {
  items: T[];
  /** Opaque; pass back to get the next page. Absent on the last page. */
  cursor?: string;
}

/** What a conditional write on a run expects to find; a mismatch makes the write a no-op. */
export interface RunGuard {
  status: RunStatus;
  attempts: number;
  /** Also require this exact lease (used when ending a run whose worker vanished). */
  leaseUntil?: string;
}

/** Fields a write may set; `null` removes an attribute. */
export type RunPatch = {
  [K in
    | "status"
    | "attempts"
    | "updatedAt"
    | "startedAt"
    | "endedAt"
    | "leaseUntil"
    | "nextAttemptAt"
    | "output"
    | "error"
    | "feedback"
    | "progress"
    | "logs"
    | "logsDropped"]?: Run[K] | null;
} & {
  /** Set one `ctx.once` record without rewriting the others. */
  once?: { key: string; record: OnceRecord };
};

export type ClaimResult = { claimed: true; run: Run } | { claimed: false; current: Run | undefined };

export interface RunListQuery {
  tenant: string;
  status?: RunStatus;
  definition?: string;
  limit: number;
  cursor?: string;
}

export interface RunStore {
  /** Adds a new run; throws ConflictError if the id exists. */
  create(run: Run): Promise<void>;
  get(ref: RunRef): Promise<Run | undefined>;
  /**
   * Takes the run for one attempt: succeeds only if it is `queued` and due, or `running` with a
   * lease that ran out and attempts left. Sets status running, attempts + 1, leaseUntil.
   * On failure returns the run as it is, so the caller can tell why without another read.
   */
  claim(ref: RunRef, at: { now: string; leaseUntil: string }): Promise<ClaimResult>;
  /** Applies `patch` if the run matches `guard`; returns the new run, or undefined if it did not match. */
  update(ref: RunRef, guard: RunGuard, patch: RunPatch): Promise<Run | undefined>;
  /** Deletes the run if it matches `guard` (undoing a start whose enqueue failed). */
  remove(ref: RunRef, guard: RunGuard): Promise<boolean>;
  /** Newest first, by index; never a table scan. Throws ValidationError on a bad cursor. */
  list(query: RunListQuery): Promise<Page<Run>>;
}

export interface DefinitionStore {
  /** Creates or replaces; returns whether it existed before. */
  put(definition: TaskDefinition): Promise<{ created: boolean }>;
  get(tenant: string, name: string): Promise<TaskDefinition | undefined>;
  delete(tenant: string, name: string): Promise<boolean>;
  list(tenant: string, page: { limit: number; cursor?: string }): Promise<Page<TaskDefinition>>;
}

export interface TenantStore {
  /** Throws ConflictError if the tenant exists. */
  createTenant(tenant: Tenant): Promise<void>;
  getTenant(id: string): Promise<Tenant | undefined>;
  /** Throws ConflictError if a key with that hash exists. */
  putKey(key: ApiKeyRecord): Promise<void>;
  getKey(keyHash: string): Promise<ApiKeyRecord | undefined>;
}

/** The message that asks a worker to run (or look at) one run. Small on purpose: the run is in the store. */
export interface RunMessage {
  tenant: string;
  runId: string;
  /** Runs with the same queue never overlap and start in order (one SQS FIFO message group). */
  queue?: string;
}

export interface RunQueue {
  /** Sends once per run id: a repeated send of the same run within the dedup window is dropped. */
  enqueue(message: RunMessage): Promise<void>;
  /** Hides a received message for `seconds` more (heartbeat, or a retry's backoff). */
  setVisibility(receiptHandle: string, seconds: number): Promise<void>;
}
