/**
 * The DynamoDB tables, described once: the CDK stack (infra/) and the local bootstrap (local/)
 * both build their tables from this, so the emulator and AWS cannot drift apart.
 * All key attributes are strings.
 */
export interface IndexSchema {
  partitionKey: string;
  sortKey?: string;
  /** Non-key attributes copied into the index; none means KEYS_ONLY. */
  include?: readonly string[];
}

export interface TableSchema {
  partitionKey: string;
  sortKey?: string;
  indexes: Readonly<Record<string, IndexSchema>>;
  /** Number attribute (epoch seconds) after which DynamoDB deletes the item. */
  ttlAttribute?: string;
}

export const TABLES = {
  /**
   * Runs: pk = "<tenant>#<runId>", sk = "run" (the small hot item), and beside it sk = "params",
   * "output", "logs" for those fields when bulky (run-keys.ts BESIDE_FIELDS). Listing goes through KEYS_ONLY-like indexes (only
   * the never-changing `definition` is copied, so listing can filter on it) so that the frequent
   * feedback/progress writes never touch an index. Every partition a whole tenant writes is split
   * over LIST_SHARDS (shared/aws/run-keys.ts) and read back merged. Which index earns its writes,
   * and what a task writes: docs/PERFORMANCE.md "Run table layout"; docs/admission.md.
   */
  runs: {
    partitionKey: "pk",
    sortKey: "sk",
    indexes: {
      /** Every run, under "<tenant>#<listing shard>"; the definition filter of a listing reads it. */
      byTenantShard: { partitionKey: "tenantShard", sortKey: "createdKey", include: ["definition"] },
      /**
       * "<tenant>#active#<shard>" for unfinished runs, "<tenant>#<status>#<shard>" for
       * failed/cancelled/timed_out; succeeded runs are not in it.
       */
      byStatus: { partitionKey: "tenantStatus", sortKey: "createdKey", include: ["definition"] },
      /**
       * Sparse: only waiting runs carry `waitingFor`, "<tenant>#<definition>" in a definition's
       * line or "<tenant>#*" in the tenant's (TENANT_SCOPE); promotion takes the first. Sorted by
       * `lineKey` (shared/core/priority.ts): highest priority first, then oldest. It replaced
       * `byWaiting` (sorted by `createdKey` alone); `npm run migrate` gives older runs their lineKey.
       */
      byWaitingLine: { partitionKey: "waitingFor", sortKey: "lineKey", include: ["queue", "timeoutSeconds"] },
      /** Sparse: only runs holding a slot carry `slotFor`; the sweeper counts them. */
      bySlot: { partitionKey: "slotFor", sortKey: "createdKey" },
      /**
       * Sparse: only runs holding a slot of a capped tenant carry `tenantSlotFor` (the tenant);
       * the sweeper counts them. Runs of tenants without a cap never write it.
       */
      byTenantSlot: { partitionKey: "tenantSlotFor", sortKey: "createdKey" },
      /** Sparse: unfinished runs, by when the sweeper should look at them, over a few shards. */
      bySweep: { partitionKey: "sweepShard", sortKey: "sweepAt" },
      /** Sparse: delayed starts, by when they are due, over a few shards. */
      byDue: { partitionKey: "dueShard", sortKey: "scheduledFor" },
      /**
       * Sparse: runs another run started, under "<origin tenant>#<origin id>" (a run lists what
       * it started). Written once at create; its attributes never change, so no later write
       * touches it.
       */
      byOrigin: {
        partitionKey: "originKey",
        sortKey: "createdKey",
        include: ["definition", "trigger", "origin"],
      },
    },
    /** Idempotency records (in this table, written in the start's transaction) expire. */
    ttlAttribute: "expiresAt",
  },
  definitions: { partitionKey: "tenant", sortKey: "name", indexes: {} },
  /** Chain records: a tenant's named hand-offs to one of its definitions. */
  chains: { partitionKey: "tenant", sortKey: "name", indexes: {} },
  /** Access grants, held by the target tenant: sk = "<sourceTenant>#<chain>". */
  grants: { partitionKey: "tenant", sortKey: "grantKey", indexes: {} },
  /** Upload destinations (FTP, FTPS, SFTP) of a tenant, by name; credentials sealed. */
  destinations: { partitionKey: "tenant", sortKey: "name", indexes: {} },
  /** Admission counters of limited definitions: pk = "<tenant>#<definition>". */
  counters: { partitionKey: "pk", indexes: {} },
  tenants: { partitionKey: "id", indexes: {} },
  /** API keys by the SHA-256 of the key: authentication is one GetItem. */
  keys: {
    partitionKey: "keyHash",
    indexes: { byTenant: { partitionKey: "tenant", sortKey: "keyId", include: ["role", "createdAt"] } },
  },
} as const satisfies Record<string, TableSchema>;

export type TableName = keyof typeof TABLES;

/**
 * The runs table's indexes of the layout before issue #14's that the current one dropped
 * (byTenantShard with a definition filter replaces byTenant and byDefinition, byWaitingLine
 * replaces byWaiting); no code reads them. A stack deployed with that layout keeps them through a
 * staged upgrade (infra/tables.ts RUN_INDEX_UPGRADE, `runIndexUpgradeStage`): CloudFormation, like
 * DynamoDB's UpdateTable, creates or deletes only one global secondary index per table update.
 */
export const PREVIOUS_RUN_INDEXES = {
  byTenant: { partitionKey: "tenant", sortKey: "createdKey" },
  byDefinition: { partitionKey: "tenantDefinition", sortKey: "createdKey" },
  byWaiting: { partitionKey: "waitingFor", sortKey: "createdKey", include: ["queue", "timeoutSeconds"] },
} as const satisfies Record<string, IndexSchema>;
export type PreviousRunIndex = keyof typeof PREVIOUS_RUN_INDEXES;
export type TableNames = Record<TableName, string>;
