/** Reads every item of a test stack's tables straight from DynamoDB, past the product's own code. */
import { DynamoDBClient, paginateScan } from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { tableNames } from "../../local/bootstrap.ts";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../../local/emulators.ts";

export type TableItems = Record<string, Record<string, unknown>[]>;

/** Every item of every table of the prefix, each table's items sorted, so two reads compare equal. */
export async function readAllTables(endpoint: string, prefix: string): Promise<TableItems> {
  const client = new DynamoDBClient({ region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, endpoint });
  try {
    const out: TableItems = {};
    for (const [name, table] of Object.entries(tableNames(prefix))) {
      const items: Record<string, unknown>[] = [];
      for await (const page of paginateScan({ client }, { TableName: table, ConsistentRead: true })) {
        for (const item of page.Items ?? []) items.push(unmarshall(item));
      }
      out[name] = items
        .map((item) => JSON.stringify(item))
        .sort()
        .map((text) => JSON.parse(text));
    }
    return out;
  } finally {
    client.destroy();
  }
}

/** The runs of a stack as stored (the runs table holds runs and idempotency records). */
export async function readRuns(endpoint: string, prefix: string): Promise<Record<string, unknown>[]> {
  const { runs = [] } = await readAllTables(endpoint, prefix);
  return runs.filter((item) => typeof item.status === "string" && typeof item.definition === "string");
}
