/**
 * Moves a runs table from the previous layout to the current one (docs/PERFORMANCE.md "Run table
 * layout", which also gives the upgrade steps of a deployed stack).
 *
 *   npm run migrate                              the local stack's data (BATON_DATA_DIR, default
 *                                                .baton/); stop `npm run dev` first
 *   npm run migrate -- --runs-table <name>       a deployed runs table (AWS credentials and region
 *                                                from the environment, as for the AWS CLI)
 *
 * What it changes, idempotently (a second run finds nothing to do and writes nothing):
 * - every run item gets the shard of the listing indexes: `tenantShard` (byTenantShard) and
 *   `tenantStatus` with its shard suffix (byStatus), and its sweep entry moves to its shard among
 *   SWEEP_SHARDS; a waiting or delayed run gets its `lineKey` (its place in the waiting index
 *   `byWaitingLine`, by priority then age, which replaced `byWaiting`). Each write is
 *   conditional on the run's status as read, so a run that moves meanwhile is read again, never
 *   overwritten with a stale status.
 * - locally, the runs table's indexes: the ones the layout dropped (byTenant, byDefinition,
 *   byWaiting) are deleted and the new ones created. On AWS the CDK stack owns the indexes and
 *   changes them one per deploy (`-c runIndexUpgradeStage=…`, docs/PERFORMANCE.md "Upgrading"):
 *   run this right after stage 1 creates byWaitingLine, and again after stage 2. Until it has
 *   run, listing misses the runs it has not reached, and those of them that wait are not promoted.
 * Runs of the previous layout keep their params, output and logs in their own item; they read
 * as before, and their next write of output or logs moves those beside it.
 */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { DescribeTableCommand, DynamoDBClient, UpdateTableCommand } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, GetCommand, ScanCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { ensureTables, tableNames } from "../local/bootstrap.ts";
import { LOCAL_CREDENTIALS, LOCAL_REGION, startEmulators } from "../local/emulators.ts";
import { isConditionFailure } from "../shared/aws/clients.ts";
import { lineKeyOf, mayWait, statusKeyOf, sweepShardOf, tenantShardKeyOf } from "../shared/aws/run-keys.ts";
import { TABLES } from "../shared/aws/tables.ts";
import type { RunStatus } from "../shared/core/run.ts";

export interface MigrationReport {
  /** Run items read. */
  runs: number;
  /** Run items rewritten (0 on a table already migrated). */
  updated: number;
  /** Indexes deleted from the table (local only). */
  droppedIndexes: string[];
}

type Item = Record<string, unknown>;

/** The index attributes a run item has in the current layout, undefined where it has none. */
function wantedKeys(
  item: Item,
): Record<"tenantShard" | "tenantStatus" | "sweepShard" | "lineKey", string | undefined> {
  const tenant = String(item.tenant);
  const id = String(item.id);
  const status = item.status as RunStatus;
  return {
    tenantShard: tenantShardKeyOf(tenant, id),
    tenantStatus: statusKeyOf(tenant, item.status as RunStatus, id),
    // Only runs the sweeper should look at are in the sweep index.
    sweepShard: item.sweepShard === undefined ? undefined : String(sweepShardOf(id)),
    // A run that waits, or may (delayed), is in the waiting index by priority, then age (byWaitingLine).
    lineKey: mayWait(status)
      ? lineKeyOf({ createdAt: String(item.createdAt), id, priority: item.priority as number | undefined })
      : (item.lineKey as string | undefined),
  };
}

/** Brings one run item to the current layout; false if it already was. Retries a run that moved. */
async function migrateRun(client: DynamoDBDocumentClient, table: string, first: Item): Promise<boolean> {
  let item: Item | undefined = first;
  for (let round = 0; round < 5 && item !== undefined; round += 1) {
    const wanted = wantedKeys(item);
    const sets: string[] = [];
    const removes: string[] = [];
    const values: Record<string, unknown> = { ":status": item.status };
    for (const [attribute, value] of Object.entries(wanted)) {
      if (item[attribute] === value) continue;
      if (value === undefined) removes.push(attribute);
      else {
        sets.push(`${attribute} = :${attribute}`);
        values[`:${attribute}`] = value;
      }
    }
    if (sets.length === 0 && removes.length === 0) return false;
    try {
      await client.send(
        new UpdateCommand({
          TableName: table,
          Key: { pk: item.pk, sk: item.sk },
          UpdateExpression: [
            sets.length > 0 ? `SET ${sets.join(", ")}` : "",
            removes.length > 0 ? `REMOVE ${removes.join(", ")}` : "",
          ].join(" "),
          ConditionExpression: "attribute_exists(pk) AND #status = :status",
          ExpressionAttributeNames: { "#status": "status" },
          ExpressionAttributeValues: values,
        }),
      );
      return true;
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const again: { Item?: Item } = await client.send(
        new GetCommand({ TableName: table, Key: { pk: item.pk, sk: item.sk }, ConsistentRead: true }),
      );
      item = again.Item;
    }
  }
  if (item === undefined) return false;
  throw new Error(`run ${String(first.pk)} kept changing while it was migrated; run the migration again`);
}

/** Every run item of the table to the current layout. A Scan: this is a one-off, never a hot path. */
export async function migrateRunItems(
  client: DynamoDBDocumentClient,
  table: string,
  progress: (line: string) => void = () => {},
): Promise<{ runs: number; updated: number }> {
  let runs = 0;
  let updated = 0;
  let start: Item | undefined;
  do {
    const page = await client.send(
      new ScanCommand({
        TableName: table,
        FilterExpression: "sk = :run",
        ExpressionAttributeValues: { ":run": "run" },
        ExclusiveStartKey: start,
      }),
    );
    const items = page.Items ?? [];
    runs += items.length;
    const changed = await Promise.all(items.map((item) => migrateRun(client, table, item)));
    updated += changed.filter(Boolean).length;
    start = page.LastEvaluatedKey;
    if (items.length > 0) progress(`${runs} runs read, ${updated} updated`);
  } while (start !== undefined);
  return { runs, updated };
}

/**
 * The runs table's indexes to the current layout, on the emulator (on AWS the CDK stack owns
 * them): creates the missing ones (ensureTables), then deletes the ones the layout no longer has.
 */
export async function reconcileLocalIndexes(raw: DynamoDBClient, prefix: string): Promise<string[]> {
  const names = tableNames(prefix);
  // Creates the tables a fresh data folder lacks and adds the indexes the layout gained.
  await ensureTables(raw, names);
  const described = await raw.send(new DescribeTableCommand({ TableName: names.runs }));
  const wanted = new Set(Object.keys(TABLES.runs.indexes));
  const dropped: string[] = [];
  for (const index of described.Table?.GlobalSecondaryIndexes ?? []) {
    const name = index.IndexName;
    if (name === undefined || wanted.has(name)) continue;
    await raw.send(
      new UpdateTableCommand({
        TableName: names.runs,
        GlobalSecondaryIndexUpdates: [{ Delete: { IndexName: name } }],
      }),
    );
    dropped.push(name);
  }
  // DynamoDB takes an index down in the background: wait until it is gone.
  for (let round = 0; dropped.length > 0 && round < 600; round += 1) {
    const now = await raw.send(new DescribeTableCommand({ TableName: names.runs }));
    const left = (now.Table?.GlobalSecondaryIndexes ?? []).filter(
      (index) => !wanted.has(index.IndexName ?? ""),
    );
    if (left.length === 0) break;
    await new Promise((done) => setTimeout(done, 200));
  }
  return dropped;
}

/** The whole migration of one runs table: its indexes first when local, then its items. */
export async function migrate(options: {
  raw: DynamoDBClient;
  table: string;
  /** The emulator's table prefix: its indexes are reconciled too. Absent on AWS. */
  localPrefix?: string;
  progress?: (line: string) => void;
}): Promise<MigrationReport> {
  const droppedIndexes =
    options.localPrefix === undefined ? [] : await reconcileLocalIndexes(options.raw, options.localPrefix);
  const client = DynamoDBDocumentClient.from(options.raw);
  const { runs, updated } = await migrateRunItems(client, options.table, options.progress);
  return { runs, updated, droppedIndexes };
}

const USAGE = `usage: npm run migrate [-- --runs-table <name>]
  without --runs-table: the local stack's data in BATON_DATA_DIR (default .baton); stop npm run dev first
  --runs-table <name>   a deployed runs table (or BATON_RUNS_TABLE); deploy the stack first
  --endpoint <url>      a DynamoDB endpoint other than AWS's (e.g. a DynamoDB Local you run)`;

async function main(): Promise<number> {
  let values: { "runs-table"?: string; endpoint?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        "runs-table": { type: "string" },
        endpoint: { type: "string" },
        help: { type: "boolean" },
      },
    }));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help === true) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const print = (line: string) => process.stdout.write(`${line}\n`);
  const table = values["runs-table"] ?? process.env.BATON_RUNS_TABLE;
  if (table !== undefined) {
    const raw = new DynamoDBClient(values.endpoint === undefined ? {} : { endpoint: values.endpoint });
    const report = await migrate({ raw, table, progress: print });
    print(`migrated ${table}: ${report.runs} runs read, ${report.updated} updated`);
    return 0;
  }
  const dataDir = resolve(process.env.BATON_DATA_DIR ?? ".baton");
  print(`migrating the local data in ${dataDir}`);
  const emulators = await startEmulators({ dataDir, maxDynamoDbRestarts: 0 });
  try {
    const raw = new DynamoDBClient({
      region: LOCAL_REGION,
      endpoint: emulators.dynamodbEndpoint,
      credentials: LOCAL_CREDENTIALS,
    });
    const prefix = "baton-";
    const report = await migrate({
      raw,
      table: tableNames(prefix).runs,
      localPrefix: prefix,
      progress: print,
    });
    const dropped = report.droppedIndexes.length === 0 ? "none" : report.droppedIndexes.join(", ");
    print(`migrated: ${report.runs} runs read, ${report.updated} updated; indexes dropped: ${dropped}`);
    return 0;
  } finally {
    await emulators.stop();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main();
}
