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
}

export const TABLES = {
  /**
   * Runs: pk = "<tenant>#<runId>", sk = "run". Listing goes through KEYS_ONLY indexes so that the
   * frequent feedback/progress writes never touch an index; only a status change rewrites
   * one index entry. `definition` never changes, so including it costs nothing extra.
   */
  runs: {
    partitionKey: "pk",
    sortKey: "sk",
    indexes: {
      byTenant: { partitionKey: "tenant", sortKey: "createdKey" },
      byStatus: { partitionKey: "tenantStatus", sortKey: "createdKey", include: ["definition"] },
      byDefinition: { partitionKey: "tenantDefinition", sortKey: "createdKey" },
    },
  },
  definitions: { partitionKey: "tenant", sortKey: "name", indexes: {} },
  tenants: { partitionKey: "id", indexes: {} },
  /** API keys by the SHA-256 of the key: authentication is one GetItem. */
  keys: { partitionKey: "keyHash", indexes: {} },
} as const satisfies Record<string, TableSchema>;

export type TableName = keyof typeof TABLES;
export type TableNames = Record<TableName, string>;
