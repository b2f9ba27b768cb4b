import type {
  BulkStore,
  ChainStore,
  Clock,
  CounterStore,
  DefinitionScheduler,
  DefinitionStore,
  DependencyProbes,
  DestinationStore,
  FileStore,
  Log,
  Metrics,
  ParamCrypto,
  RunQueue,
  RunStore,
  RunTimer,
  StartRateStore,
  TenantStore,
} from "../core/ports.ts";
import type { HandlerRegistry } from "../core/task.ts";

/** Everything the use cases need, wired once by a composition root (functions/compose.ts, local/). */
export interface Services {
  runs: RunStore;
  /** Bulk actions' records (shared/app/bulk.ts). */
  bulks: BulkStore;
  counters: CounterStore;
  chains: ChainStore;
  definitions: DefinitionStore;
  tenants: TenantStore;
  /** Tenants' start-rate buckets (their `startsPerSecond`). */
  startRates: StartRateStore;
  queue: RunQueue;
  timer: RunTimer;
  files: FileStore;
  destinations: DestinationStore;
  uploads: UploadSettings;
  crypto: ParamCrypto;
  /** Signs file tokens; absent: @FileToken@ is refused. */
  fileTokenSecret?: string;
  scheduler: DefinitionScheduler;
  /** Cheap reads of the database, queue and file storage, for GET /health. */
  dependencies: DependencyProbes;
  registry: HandlerRegistry;
  clock: Clock;
  log: Log;
  metrics: Metrics;
  /** Sortable, unique run ids. */
  newId: () => string;
  /** [0, 1), for backoff jitter. */
  random: () => number;
  /**
   * Where live event streams are served when not on the API's own URL (AWS: the events function
   * URL, since the HTTP API cannot stream); the dashboard opens them there.
   */
  eventsUrl?: string;
  /** SHA-256 of the operator key (BATON_ROOT_KEY); operator routes answer 401 without it. */
  rootKeyHash?: string;
  worker: WorkerSettings;
  /** Admission tuning; absent: the documented defaults. */
  admission?: AdmissionSettings;
  /** Bulk actions' tuning; absent: BULK_LIMITS. */
  bulk?: BulkSettings;
}

export interface BulkSettings {
  /** Runs per page (BULK_LIMITS.pageSize by default); tests set it low to cross pages with few runs. */
  pageSize?: number;
}

export interface AdmissionSettings {
  /**
   * Slots per counter shard of a limited definition (shared/core/admission-shards.ts,
   * SLOTS_PER_SHARD by default). Tests set it low to put small limits through the sharded path.
   */
  slotsPerShard?: number;
}

export interface WorkerSettings {
  /** How long a claim holds without a heartbeat; a dead worker's run is retried after it. */
  leaseSeconds: number;
  /** Feedback, progress and logs are written at most this often (and once more at the end). */
  flushIntervalMs: number;
}

export interface UploadSettings {
  /**
   * Whether destinations may be on loopback, private or link-local addresses. Off on AWS, so a
   * tenant cannot point the worker at the network around it; on for `npm run dev` and the tests.
   */
  allowPrivateAddresses: boolean;
  /** How long connecting and logging in may take before the attempt counts the server unreachable. */
  connectTimeoutMs: number;
}

export const systemClock: Clock = { now: () => new Date() };
