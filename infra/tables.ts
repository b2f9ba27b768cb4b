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
   * Indexes of the runs table's previous layout to keep for now (a staged upgrade of a stack
   * deployed before issue #14's layout: docs/PERFORMANCE.md "Upgrading"). CloudFormation creates
   * or deletes one global secondary index per table update, so the three changes (create
   * byTenantShard, delete byDefinition, delete byTenant) take three deploys: with both kept, then
   * byTenant, then none. Default none: the current layout, what a new stack gets.
   */
  keepPreviousRunIndexes?: readonly PreviousRunIndex[];
}

/** The runs table's indexes at a stage of the upgrade: the current ones plus those still kept. */
export function runIndexesKeeping(kept: readonly PreviousRunIndex[] = []): Record<string, IndexSchema> {
  const indexes: Record<string, IndexSchema> = { ...TABLES.runs.indexes };
  for (const name of kept) {
    if (!Object.hasOwn(PREVIOUS_RUN_INDEXES, name)) {
      throw new Error(
        `keepPreviousRunIndexes: ${name} is not an index of the previous layout (${Object.keys(PREVIOUS_RUN_INDEXES).join(", ")})`,
      );
    }
    indexes[name] = PREVIOUS_RUN_INDEXES[name];
  }
  return indexes;
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
      const indexes = name === "runs" ? runIndexesKeeping(props.keepPreviousRunIndexes) : schema.indexes;
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
