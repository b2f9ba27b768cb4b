/**
 * The call counter places every write unit DynamoDB Local reports on a partition key of a table
 * or GSI (the hot-key rows and ceilings of `npm run bench -- --cost` rest on it), for every kind
 * of write a task makes: puts, updates, transactions with the counters, deletes of index entries.
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../../local/emulators.ts";
import { AwsCallCounter, tablesKeyAttribution } from "../../shared/aws/call-counter.ts";
import { TABLES } from "../../shared/aws/tables.ts";
import { startTask, startTestStack, type TestStack, waitForEnd } from "../support/stack.ts";

const counter = new AwsCallCounter();
let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ callCounter: counter });
  for (const [name, body] of [
    ["plain", { handler: "echo" }],
    ["limited", { handler: "echo", maxConcurrency: 1 }],
  ] as const) {
    expect((await stack.request("PUT", `/v1/definitions/${name}`, { body })).status).toBeLessThan(300);
  }
  counter.attributeKeys(
    tablesKeyAttribution(
      new DynamoDBClient({
        region: LOCAL_REGION,
        endpoint: stack.endpoints.dynamodb,
        credentials: LOCAL_CREDENTIALS,
      }),
      stack.prefix,
    ),
  );
});
afterAll(async () => {
  await stack?.stop();
});

describe("write units by partition key", () => {
  it("places every unit DynamoDB reports on a key of a table or index the schemas describe", async () => {
    counter.reset();
    const ids = await Promise.all([
      startTask(stack, { definition: "plain" }),
      // One slot: the second waits and is promoted (counters transactions, index moves).
      startTask(stack, { definition: "limited" }),
      startTask(stack, { definition: "limited" }),
    ]);
    for (const id of ids) expect((await waitForEnd(stack, id)).status).toBe("succeeded");
    const units = counter.units();
    const keyed = counter.unitsByKey();
    const total = keyed.reduce((sum, k) => sum + k.units, 0);
    expect(units.write).toBeGreaterThan(0);
    expect(total).toBeCloseTo(units.write + units.refusedWrites, 6);
    expect(keyed.filter((k) => k.key === "?")).toEqual([]);
    for (const k of keyed) {
      const schema = TABLES[k.table as keyof typeof TABLES];
      expect(schema, k.table).toBeDefined();
      if (k.index !== undefined) expect(Object.keys(schema.indexes)).toContain(k.index);
    }
    // The run items themselves and at least one index took units.
    expect(keyed.some((k) => k.table === "runs" && k.index === undefined)).toBe(true);
    expect(keyed.some((k) => k.table === "runs" && k.index !== undefined)).toBe(true);
  });
});
