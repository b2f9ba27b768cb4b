import { RemovalPolicy } from "aws-cdk-lib";
import * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import type * as iam from "aws-cdk-lib/aws-iam";
import { Construct } from "constructs";
import {
  type IndexSchema,
  PREVIOUS_RUN_INDEXES,
  type PreviousRunIndex,
  TABLES,
  type TableName,
  type TableSchema,
} from "../shared/aws/tables.ts";
import { ENV } from "../shared/config.ts";

/** The variable that carries each table's name into the functions; shared/config.ts reads it back. */
export const TABLE_ENV = {
  runs: ENV.runsTable,
  definitions: ENV.definitionsTable,
  tenants: ENV.tenantsTable,
  keys: ENV.keysTable,
  counters: ENV.countersTable,
  chains: ENV.chainsTable,
  grants: ENV.grantsTable,
  destinations: ENV.destinationsTable,
} as const satisfies Record<TableName, string>;

const SCHEMAS: Record<TableName, TableSchema> = TABLES;
const TABLE_NAMES = Object.keys(TABLES) as TableName[];

const stringKey = (name: string): dynamodb.Attribute => ({ name, type: dynamodb.AttributeType.STRING });

/**
 * Every table in shared/aws/tables.ts, built from that one description so AWS and the local
 * emulator cannot drift apart.
 */
export interface BatonTablesProps {
  /**
   * Runs, tenants, keys, chains, grants and the admission counters are the system of record: by
   * default a stack deletion keeps them (RETAIN) and DynamoDB refuses to delete them (deletion
   * protection). DESTROY, for throwaway stages, turns the protection off too, or the stack could
   * never be deleted.
   */
  removalPolicy: RemovalPolicy;
  /**
   * A stage of the staged upgrade of a runs table deployed with the layout before issue #14's
   * (RUN_INDEX_UPGRADE: stage n has the first n of its index changes; docs/PERFORMANCE.md
   * "Upgrading"). Default none: the current layout, what a new stack gets and what the last stage
   * also is.
   */
  runIndexUpgradeStage?: RunIndexUpgradeStage;
}

/** One change of the runs table's indexes: what a single table update may do. */
type RunIndexChange = { create: keyof typeof TABLES.runs.indexes } | { delete: PreviousRunIndex };

/**
 * From the runs table's layout before issue #14's (the current indexes less the two created here,
 * plus PREVIOUS_RUN_INDEXES) to the current one, one index per deploy: CloudFormation, like
 * DynamoDB's UpdateTable, creates or deletes one global secondary index per table update and
 * changes none in place. The functions the first deploy updates already use the new indexes, so
 * the new ones come first, the waiting line before the listing one: admission and promotion query
 * byWaitingLine, only listing queries byTenantShard. No code reads the old ones, so they go last;
 * byWaiting last of all, so that a stack on the layout between #14 and priorities (byTenantShard
 * and byWaiting) is one change from stage 4.
 */
export const RUN_INDEX_UPGRADE = [
  { create: "byWaitingLine" },
  { create: "byTenantShard" },
  { delete: "byDefinition" },
  { delete: "byTenant" },
  { delete: "byWaiting" },
] as const satisfies readonly RunIndexChange[];

/** Stage n: the previous layout with the first n changes of RUN_INDEX_UPGRADE made. */
export type RunIndexUpgradeStage = 1 | 2 | 3 | 4 | 5;

/** The stage a `runIndexUpgradeStage` value names, or a clear error. */
export function runIndexUpgradeStageOf(value: number): RunIndexUpgradeStage {
  if (!Number.isInteger(value) || value < 1 || value > RUN_INDEX_UPGRADE.length) {
    throw new Error(
      `runIndexUpgradeStage must be a whole number from 1 to ${RUN_INDEX_UPGRADE.length}, not ${value}: ` +
        'the stages of the runs table\'s index upgrade (docs/PERFORMANCE.md "Upgrading")',
    );
  }
  return value as RunIndexUpgradeStage;
}

/**
 * The runs table's indexes at a stage of the upgrade; without one, the current layout. Always in
 * the same order (the current indexes as tables.ts lists them, then the previous ones), so the
 * last stage's template is exactly the current layout's.
 */
export function runIndexesAtStage(stage?: number): Record<string, IndexSchema> {
  const present = new Set<string>(Object.keys(TABLES.runs.indexes));
  if (stage !== undefined) {
    const made = RUN_INDEX_UPGRADE.slice(0, runIndexUpgradeStageOf(stage));
    for (const change of RUN_INDEX_UPGRADE) if ("create" in change) present.delete(change.create);
    for (const name of Object.keys(PREVIOUS_RUN_INDEXES)) present.add(name);
    for (const change of made) {
      if ("create" in change) present.add(change.create);
      else present.delete(change.delete);
    }
  }
  const every: Record<string, IndexSchema> = { ...TABLES.runs.indexes, ...PREVIOUS_RUN_INDEXES };
  return Object.fromEntries(Object.entries(every).filter(([name]) => present.has(name)));
}

export class BatonTables extends Construct {
  readonly tables: Readonly<Record<TableName, dynamodb.Table>>;

  constructor(scope: Construct, id: string, props: BatonTablesProps) {
    super(scope, id);
    const tables = {} as Record<TableName, dynamodb.Table>;
    for (const name of TABLE_NAMES) {
      const schema = SCHEMAS[name];
      const table = new dynamodb.Table(this, name, {
        partitionKey: stringKey(schema.partitionKey),
        sortKey: schema.sortKey === undefined ? undefined : stringKey(schema.sortKey),
        billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        encryption: dynamodb.TableEncryption.AWS_MANAGED,
        // Runs, tenants, keys, chains, grants, destinations and the admission counters are the
        // system of record: by default a stack deletion must not take them.
        removalPolicy: props.removalPolicy,
        deletionProtection: props.removalPolicy !== RemovalPolicy.DESTROY,
        ...(schema.ttlAttribute === undefined ? {} : { timeToLiveAttribute: schema.ttlAttribute }),
      });
      const indexes = name === "runs" ? runIndexesAtStage(props.runIndexUpgradeStage) : schema.indexes;
      for (const [indexName, index] of Object.entries(indexes)) {
        table.addGlobalSecondaryIndex({
          indexName,
          partitionKey: stringKey(index.partitionKey),
          sortKey: index.sortKey === undefined ? undefined : stringKey(index.sortKey),
          ...(index.include === undefined
            ? { projectionType: dynamodb.ProjectionType.KEYS_ONLY }
            : { projectionType: dynamodb.ProjectionType.INCLUDE, nonKeyAttributes: [...index.include] }),
        });
      }
      tables[name] = table;
    }
    this.tables = tables;
  }

  /**
   * Every table's name under its variable. Every function gets all of them: the config is parsed
   * whole at cold start, so a name is no grant; access comes only from `grantReadWrite`/`grantRead`.
   */
  environment(): Record<string, string> {
    return Object.fromEntries(TABLE_NAMES.map((name) => [TABLE_ENV[name], this.tables[name].tableName]));
  }

  /** Every table under its name (alarms and the dashboard go over them all). */
  entries(): [TableName, dynamodb.Table][] {
    return TABLE_NAMES.map((name) => [name, this.tables[name]]);
  }

  /** Item read/write on the named tables and their indexes, nothing else. */
  grantReadWrite(grantee: iam.IGrantable, ...names: TableName[]): void {
    for (const name of names) this.tables[name].grantReadWriteData(grantee);
  }

  /** Item reads (get, query, scan) on the named tables and their indexes, no writes. */
  grantRead(grantee: iam.IGrantable, ...names: TableName[]): void {
    for (const name of names) this.tables[name].grantReadData(grantee);
  }
}
