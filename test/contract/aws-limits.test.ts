/**
 * AWS's hard limits, enforced by the adapters so the local stack fails where AWS would. Each
 * runs on the emulators where one exists (DynamoDB Local, fauxqs); the Scheduler and KMS have
 * none here, so their requests are recorded instead. SQS ids: run-queue.contract.ts.
 */
import { DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import type { KMSClient } from "@aws-sdk/client-kms";
import type { SchedulerClient } from "@aws-sdk/client-scheduler";
import { CreateQueueCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import fc from "fast-check";
import { describe, expect, inject, it } from "vitest";
import { ensureTables, tableNames } from "../../local/bootstrap.ts";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../../local/emulators.ts";
import {
  AWS_LIMITS,
  checkScheduleName,
  checkSqsBody,
  checkSqsDelay,
  dynamoItemBytes,
  sqsId,
} from "../../shared/aws/aws-limits.ts";
import { AwsRunTimer } from "../../shared/aws/aws-run-timer.ts";
import { createAwsClients } from "../../shared/aws/clients.ts";
import { DynamoDefinitionStore } from "../../shared/aws/dynamo-definition-store.ts";
import { DynamoTenantStore } from "../../shared/aws/dynamo-tenant-store.ts";
import { KmsParamCrypto } from "../../shared/aws/param-crypto.ts";
import { scheduleName } from "../../shared/aws/schedule-names.ts";
import { ItemTooLargeError, PayloadTooLargeError } from "../../shared/core/errors.ts";
import { uniquePrefix } from "../support/stack.ts";

const endpoints = inject("endpoints");
const clients = createAwsClients({ region: LOCAL_REGION, endpoints, credentials: LOCAL_CREDENTIALS });
/** Without Baton's middleware: DynamoDB Local's own verdict. */
const rawDynamo = new DynamoDBClient({
  region: LOCAL_REGION,
  endpoint: endpoints.dynamodb,
  credentials: LOCAL_CREDENTIALS,
});

describe("DynamoDB: 400 KB items", () => {
  it("measures items as DynamoDB does: DynamoDB Local takes exactly 409,600 bytes and refuses one more", async () => {
    const names = tableNames(uniquePrefix());
    await ensureTables(rawDynamo, names);
    const shapes: Array<(fill: string) => Record<string, unknown>> = [
      (fill) => ({ id: { S: "flat" }, data: { S: fill } }),
      (fill) => ({
        id: { S: "nested" },
        doc: {
          M: {
            n: { N: "-123.4500" },
            small: { N: "0.00123" },
            int: { N: "1200" },
            flags: { L: [{ BOOL: true }, { NULL: true }, { N: "1e10" }] },
            tags: { SS: ["a", "bb"] },
            fill: { S: fill },
          },
        },
        bin: { B: new Uint8Array(10) },
      }),
    ];
    for (const shape of shapes) {
      const fixed = dynamoItemBytes(shape(""));
      const at = (bytes: number) => shape("x".repeat(bytes - fixed));
      expect(dynamoItemBytes(at(AWS_LIMITS.dynamoItemBytes))).toBe(AWS_LIMITS.dynamoItemBytes);
      await rawDynamo.send(
        new PutItemCommand({ TableName: names.tenants, Item: at(AWS_LIMITS.dynamoItemBytes) as never }),
      );
      await expect(
        rawDynamo.send(
          new PutItemCommand({ TableName: names.tenants, Item: at(AWS_LIMITS.dynamoItemBytes + 1) as never }),
        ),
      ).rejects.toThrow(/Item size has exceeded/);
    }
  });

  it("refuses an oversized definition with ItemTooLargeError (a 413), not an SDK error", async () => {
    const names = tableNames(uniquePrefix());
    await ensureTables(rawDynamo, names);
    const store = new DynamoDefinitionStore({ client: clients.dynamo, tableName: names.definitions });
    const definition = {
      tenant: "acme",
      name: "big",
      handler: "echo",
      params: { blob: "x".repeat(401 * 1024) },
      maxAttempts: 1,
      timeoutSeconds: 60,
      createdAt: "2026-01-01T00:00:00Z",
      updatedAt: "2026-01-01T00:00:00Z",
    };
    const refused = await store.put(definition).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ItemTooLargeError);
    expect(refused).toBeInstanceOf(PayloadTooLargeError);
    expect((refused as ItemTooLargeError).details).toMatchObject({
      table: names.definitions,
      limit: 409_600,
    });
    expect(await store.get("acme", "big")).toBeUndefined();
  });

  it("lets every other store's writes through untouched", async () => {
    const names = tableNames(uniquePrefix());
    await ensureTables(rawDynamo, names);
    const tenants = new DynamoTenantStore({
      client: clients.dynamo,
      tenantsTable: names.tenants,
      keysTable: names.keys,
    });
    await tenants.createTenant({ id: "acme", name: "Acme".repeat(100), createdAt: "2026-01-01T00:00:00Z" });
    expect((await tenants.getTenant("acme"))?.name).toHaveLength(400);
  });
});

describe("SQS", () => {
  it("hashes ids past 128 characters into 128, deterministically and without collisions", () => {
    expect(sqsId("acme/01JABC")).toBe("acme/01JABC");
    const exactly = "a".repeat(128);
    expect(sqsId(exactly)).toBe(exactly);
    fc.assert(
      fc.property(
        fc.stringMatching(/^[A-Za-z0-9/#_-]{129,300}$/),
        fc.stringMatching(/^[A-Za-z0-9/#_-]{129,300}$/),
        (a, b) => {
          expect(sqsId(a)).toHaveLength(128);
          expect(sqsId(a)).toBe(sqsId(a));
          expect(sqsId(a)).toMatch(/^[\x21-\x7e]+$/);
          if (a !== b) expect(sqsId(a)).not.toBe(sqsId(b));
        },
      ),
    );
    expect(() => sqsId("")).toThrow();
    expect(() => sqsId("a b")).toThrow(/printable ASCII/);
  });

  it("delays through SQS up to 900 s and hands anything longer to the Scheduler", async () => {
    const created = await clients.sqs.send(new CreateQueueCommand({ QueueName: `${uniquePrefix()}delays` }));
    const delayQueueUrl = created.QueueUrl ?? "";
    const scheduled: Record<string, unknown>[] = [];
    const scheduler = {
      async send(command: { input: Record<string, unknown> }) {
        scheduled.push(command.input);
        return {};
      },
    } as unknown as SchedulerClient;
    const now = new Date("2026-05-01T12:00:00.000Z");
    const timer = new AwsRunTimer({
      sqs: clients.sqs,
      scheduler,
      delayQueueUrl,
      groupName: "baton",
      targetArn: "arn:aws:lambda:us-east-1:1:function:t",
      roleArn: "arn:aws:iam::1:role/s",
      clock: { now: () => now },
    });
    await timer.scheduleStart({ tenant: "acme", id: "r900" }, new Date(now.getTime() + 900_000));
    await timer.scheduleStart({ tenant: "acme", id: "r901" }, new Date(now.getTime() + 901_000));
    expect(
      scheduled.map((input) => JSON.parse(String((input.Target as { Input: string }).Input)).runId),
    ).toEqual(["r901"]);
    // The 900 s one is in the queue, held back.
    const visible = await clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: delayQueueUrl, WaitTimeSeconds: 0 }),
    );
    expect(visible.Messages ?? []).toHaveLength(0);
    expect(checkSqsDelay(900)).toBe(900);
    expect(() => checkSqsDelay(901)).toThrow(RangeError);
    expect(() => checkSqsDelay(-1)).toThrow(RangeError);
  });

  it("refuses a message body larger than its queue takes", () => {
    expect(checkSqsBody("x".repeat(262_144), 262_144)).toHaveLength(262_144);
    expect(() => checkSqsBody("€".repeat(100_000), 262_144)).toThrow(
      /300000 bytes exceeds the queue's 262144/,
    );
  });
});

describe("KMS: 4,096 bytes of plaintext", () => {
  it("never sends a value to KMS: a 300 KB value is sealed with a data key, KMS sees 32-byte keys only", async () => {
    const calls: Array<{ command: string; input: Record<string, unknown> }> = [];
    const kms = {
      async send(command: { constructor: { name: string }; input: Record<string, unknown> }) {
        calls.push({ command: command.constructor.name, input: command.input });
        if (command.constructor.name === "GenerateDataKeyCommand") {
          const key = new Uint8Array(32).fill(7);
          return { Plaintext: key, CiphertextBlob: key };
        }
        return { Plaintext: command.input.CiphertextBlob };
      },
    } as unknown as KMSClient;
    const crypto = new KmsParamCrypto({ kms, keyId: "alias/test" });
    const context = { tenant: "acme", taskId: "r1", param: "secret" };
    const value = "s".repeat(300 * 1024);
    const sealed = await crypto.seal(value, context);
    expect(await crypto.open(sealed, context)).toBe(value);
    expect(calls.map((c) => c.command)).toEqual(["GenerateDataKeyCommand", "DecryptCommand"]);
    for (const { input } of calls) {
      expect(input).not.toHaveProperty("Plaintext");
      const blob = input.CiphertextBlob as Uint8Array | undefined;
      expect(blob?.byteLength ?? 0).toBeLessThanOrEqual(AWS_LIMITS.kmsPlaintextBytes);
    }
  });
});

describe("EventBridge Scheduler: names of at most 64 of [0-9A-Za-z-_.]", () => {
  it("names every schedule within the limit, whatever the tenant and name", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("start", "cron") as fc.Arbitrary<"start" | "cron">,
        fc.string(),
        fc.string(),
        (kind, tenant, name) => {
          expect(scheduleName(kind, tenant, name)).toMatch(/^[0-9A-Za-z_.-]{1,64}$/);
        },
      ),
    );
  });

  it("refuses a group name the Scheduler would refuse", () => {
    expect(checkScheduleName("a".repeat(64))).toHaveLength(64);
    expect(() => checkScheduleName("a".repeat(65))).toThrow(/1-64/);
    expect(() => checkScheduleName("has space")).toThrow();
    const timer = () =>
      new AwsRunTimer({
        sqs: clients.sqs,
        scheduler: {} as SchedulerClient,
        delayQueueUrl: "http://localhost/q",
        groupName: "g".repeat(65),
        targetArn: "arn:aws:lambda:us-east-1:1:function:t",
        roleArn: "arn:aws:iam::1:role/s",
        clock: { now: () => new Date() },
      });
    expect(timer).toThrow(/1-64/);
  });
});
