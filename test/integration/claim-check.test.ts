/**
 * Params and output above 256 KiB go to S3 by claim check (shared/aws/payload-store.ts) and come
 * back transparently: through the API, to the handler, into a chain's @Output.X@, sealed values
 * still sealed. Above the documented maximum (LIMITS: 1 MiB each) a start is a 413 and an output
 * fails the run. On the local stack: DynamoDB Local, and fauxqs for SQS and S3.
 */
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { GetCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../../local/emulators.ts";
import { AwsCallCounter } from "../../shared/aws/call-counter.ts";
import { createAwsClients } from "../../shared/aws/clients.ts";
import { DynamoRunStore } from "../../shared/aws/dynamo-run-store.ts";
import { CLAIM_CHECK_BYTES, PayloadPointer, S3PayloadStore } from "../../shared/aws/payload-store.ts";
import { newRun } from "../../shared/core/lifecycle.ts";
import { LIMITS } from "../../shared/core/limits.ts";
import { SEALED_PREFIX } from "../../shared/core/sealed.ts";
import { reportDefinition } from "../support/fixtures.ts";
import { startTestStack, type TestStack, waitFor, waitForEnd } from "../support/stack.ts";

let stack: TestStack;
let s3: S3Client;
const counter = new AwsCallCounter();
let clients: ReturnType<typeof createAwsClients>;

/** About 300 KiB of params: above the claim-check threshold, under the maximum. */
const BLOB = "p".repeat(300 * 1024);

beforeAll(async () => {
  stack = await startTestStack({ leaseSeconds: 3 });
  s3 = new S3Client({
    region: LOCAL_REGION,
    endpoint: stack.endpoints.sqs,
    forcePathStyle: true,
    credentials: LOCAL_CREDENTIALS,
  });
  clients = createAwsClients({
    region: LOCAL_REGION,
    endpoints: { ...stack.endpoints, s3: stack.endpoints.sqs },
    credentials: LOCAL_CREDENTIALS,
    callCounter: counter,
  });
  await stack.request("PUT", "/v1/definitions/echo", { body: { handler: "echo" } });
  await stack.request("PUT", "/v1/definitions/sized", { body: { handler: "sized-output" } });
  await stack.request("PUT", "/v1/definitions/peek", { body: { handler: "peek-secret" } });
  await stack.request("PUT", "/v1/chains/next", { body: { definition: "echo" } });
  await stack.request("PUT", "/v1/chains/secret", { body: { definition: "peek" } });
});
afterAll(async () => {
  await stack?.stop();
});

/** A run store on the stack's tables and payloads bucket whose calls the counter sees. */
function countedStore(): DynamoRunStore {
  return new DynamoRunStore({
    client: clients.dynamo,
    tableName: `${stack.prefix}runs`,
    countersTable: `${stack.prefix}counters`,
    payloads: new S3PayloadStore({ client: clients.s3, bucket: `${stack.prefix}payloads` }),
  });
}

/** The item beside a run that holds one of its bulky fields, as stored. */
async function besideItem(id: string, field: "params" | "output"): Promise<Record<string, unknown>> {
  return besideItemOf("acme", id, field);
}

async function besideItemOf(
  tenant: string,
  id: string,
  field: "params" | "output",
): Promise<Record<string, unknown>> {
  const found = await clients.dynamo.send(
    new GetCommand({ TableName: `${stack.prefix}runs`, Key: { pk: `${tenant}#${id}`, sk: field } }),
  );
  if (found.Item === undefined) throw new Error(`run ${id} has no ${field} item beside it`);
  return found.Item;
}

/** The object a claim-checked field points to, as text. */
async function claimedObject(id: string, field: "params" | "output"): Promise<string> {
  const item = await besideItem(id, field);
  expect(item[field], `${field} is not inline`).toBeUndefined();
  const pointer = PayloadPointer.parse(item.claim);
  expect(pointer.key.startsWith(`acme/${id}/${field}/`)).toBe(true);
  const object = await s3.send(new GetObjectCommand({ Bucket: `${stack.prefix}payloads`, Key: pointer.key }));
  return (await object.Body?.transformToString("utf8")) ?? "";
}

describe("claim check", () => {
  it("keeps 300 KiB params and output in S3 and serves them whole: API, handler and chain", async () => {
    const started = await stack.request("POST", "/v1/tasks", {
      body: {
        definition: "echo",
        params: { blob: BLOB, n: 1 },
        chain: { name: "next", params: [{ name: "copied", value: "@Output.blob@" }] },
      },
    });
    expect(started.status).toBe(202);
    const id = started.body.taskId;
    const source = await waitFor(async () => {
      const run = (await stack.request("GET", `/v1/tasks/${id}`)).body;
      return run.status === "succeeded" && run.chainOutcomes.length > 0 ? run : undefined;
    });
    // echo returns its params: the handler saw them whole, and its output came back whole.
    expect(source.params).toEqual({ blob: BLOB, n: 1 });
    expect(source.output).toEqual({ blob: BLOB, n: 1 });
    expect(JSON.parse(await claimedObject(id, "params"))).toEqual({ blob: BLOB, n: 1 });
    expect(JSON.parse(await claimedObject(id, "output"))).toEqual({ blob: BLOB, n: 1 });

    // @Output.blob@ of the source made the child's params, claim-checked in turn.
    expect(source.chainOutcomes[0]).toMatchObject({ status: "started" });
    const child = await waitForEnd(stack, source.chainOutcomes[0].childTaskId);
    expect(child.status).toBe("succeeded");
    expect(child.params).toEqual({ copied: BLOB });
    expect(child.output).toEqual({ copied: BLOB });
    expect(JSON.parse(await claimedObject(child.taskId, "params"))).toEqual({ copied: BLOB });
  });

  it("keeps a sealed value sealed in the S3 object, and opens it only in the handler", async () => {
    const started = await stack.request("POST", "/v1/tasks", {
      body: {
        definition: "echo",
        params: { blob: BLOB },
        chain: {
          name: "secret",
          params: [
            { name: "password", value: "hunter2", encrypt: true },
            { name: "blob", value: "@Output.blob@" },
          ],
        },
      },
    });
    const source = await waitFor(async () => {
      const run = (await stack.request("GET", `/v1/tasks/${started.body.taskId}`)).body;
      return run.chainOutcomes?.length > 0 ? run : undefined;
    });
    const child = await waitForEnd(stack, source.chainOutcomes[0].childTaskId);
    expect(child.output).toMatchObject({ passwordLength: 7, ctxSeesClearText: true });
    expect(child.params).toEqual({ password: "[encrypted]", blob: BLOB });
    const stored = await claimedObject(child.taskId, "params");
    expect(stored).toContain(SEALED_PREFIX);
    expect(stored).not.toContain("hunter2");
  });

  it("answers an output of 1 MiB, and fails a run whose output is larger with a clear error", async () => {
    const fits = await stack.request("POST", "/v1/tasks", {
      body: { definition: "sized", params: { bytes: LIMITS.outputBytes } },
    });
    const done = await waitForEnd(stack, fits.body.taskId);
    expect(done.status).toBe("succeeded");
    expect(JSON.stringify(done.output).length).toBe(LIMITS.outputBytes);

    const over = await stack.request("POST", "/v1/tasks", {
      body: { definition: "sized", params: { bytes: LIMITS.outputBytes + 1 } },
    });
    const failed = await waitForEnd(stack, over.body.taskId);
    expect(failed.status).toBe("failed");
    expect(failed.error).toMatchObject({
      code: "output_too_large",
      message: `output exceeds ${LIMITS.outputBytes} bytes`,
    });
    expect(failed.output).toBeNull();
  });

  it("passes claim-checked step outputs on in a workflow, and fails one whose outputs together pass 1 MiB", async () => {
    const half = Math.floor(LIMITS.outputBytes / 2);
    const flow = (name: string, bytes: number) =>
      stack.request("PUT", `/v1/definitions/${name}`, {
        body: {
          kind: "workflow",
          steps: [
            { id: "a", definition: "sized", params: { bytes } },
            { id: "b", definition: "echo", params: { copied: "@Step.a.blob@" }, dependsOn: ["a"] },
          ],
        },
      });
    expect((await flow("fits", 300 * 1024)).status).toBe(201);
    const fits = await stack.request("POST", "/v1/tasks", { body: { definition: "fits" } });
    const done = await waitForEnd(stack, fits.body.taskId, 30_000);
    expect(done.status).toBe("succeeded");
    expect(done.output.b.copied).toBe(done.output.a.blob);
    expect(done.output.a.blob.length).toBe(300 * 1024 - 11);

    expect((await flow("too-much", half + 1024)).status).toBe(201);
    const over = await stack.request("POST", "/v1/tasks", { body: { definition: "too-much" } });
    const failed = await waitForEnd(stack, over.body.taskId, 30_000);
    expect(failed.status).toBe("failed");
    expect(failed.error).toMatchObject({
      code: "output_too_large",
      message: `the steps' outputs together exceed ${LIMITS.outputBytes} bytes`,
    });
  });

  it("takes params of exactly 1 MiB and refuses a byte more with 413 payload_too_large", async () => {
    // {"blob":"…"} is 11 bytes around the string.
    const atMax = { blob: "q".repeat(LIMITS.paramsBytes - 11) };
    const fits = await stack.request("POST", "/v1/tasks", { body: { definition: "echo", params: atMax } });
    expect(fits.status).toBe(202);
    const run = await waitForEnd(stack, fits.body.taskId);
    expect(run.params).toEqual(atMax);
    expect(run.output).toEqual(atMax);

    const over = await stack.request("POST", "/v1/tasks", {
      body: { definition: "echo", params: { blob: `${atMax.blob}q` } },
    });
    expect(over.status).toBe(413);
    expect(over.body).toEqual({
      error: "payload_too_large",
      message: `params exceed ${LIMITS.paramsBytes} bytes (defaults included)`,
    });
    const huge = await stack.request("POST", "/v1/tasks", {
      raw: JSON.stringify({ definition: "echo", params: { blob: "r".repeat(LIMITS.requestBodyBytes) } }),
    });
    expect(huge.status).toBe(413);
    expect(huge.body.error).toBe("payload_too_large");
  });
});

describe("a claim-checked run's pointer", () => {
  it("is read only within its own run: a pointer to another run's object is refused", async () => {
    const store = countedStore();
    const definition = reportDefinition({ name: "echo", maxAttempts: 1, createdAt: "", updatedAt: "" });
    const T0 = new Date("2026-01-01T00:00:00.000Z");
    const make = (tenant: string, id: string) =>
      newRun({ tenant, id, definition, params: { blob: BLOB, id }, createdBy: "key1" }, "queued", T0);
    await store.create(make("globex", "theirs"));
    await store.create(make("acme", "mine"));
    const theirs = await besideItemOf("globex", "theirs", "params");
    // A params item of acme's run, pointed at globex's object (as corrupt or planted data would).
    await clients.dynamo.send(
      new UpdateCommand({
        TableName: `${stack.prefix}runs`,
        Key: { pk: "acme#mine", sk: "params" },
        UpdateExpression: "SET claim = :claim",
        ExpressionAttributeValues: { ":claim": theirs.claim },
      }),
    );
    await expect(store.get({ tenant: "acme", id: "mine" })).rejects.toThrow(
      /outside its run: globex\/theirs\//,
    );
    expect((await store.get({ tenant: "globex", id: "theirs" }))?.params).toMatchObject({ id: "theirs" });
  });
});

describe("a claim-checked run's hot item", () => {
  it("still costs 1 write unit per heartbeat, and its params item a few units, not 300", async () => {
    const store = countedStore();
    const T0 = new Date("2026-01-01T00:00:00.000Z");
    const at = (ms: number) => new Date(T0.getTime() + ms).toISOString();
    const run = newRun(
      {
        tenant: "acme",
        id: "claimed-heartbeat",
        definition: reportDefinition({ name: "echo", maxAttempts: 2, createdAt: "", updatedAt: "" }),
        params: { blob: BLOB },
        createdBy: "key1",
      },
      "queued",
      T0,
    );
    counter.reset();
    await store.create(run);
    // The run item, its indexes and a params item of a pointer: nothing near 300 units.
    expect(counter.units().write).toBeLessThan(20);
    expect(Buffer.byteLength(JSON.stringify(run.params))).toBeGreaterThan(CLAIM_CHECK_BYTES);

    const claimed = await store.claim(run, { now: at(1), leaseUntil: at(60_000) });
    expect(claimed.claimed && claimed.run.params).toEqual({ blob: BLOB });
    const guard = { status: "running", attempts: 1, notCancelRequested: true } as const;
    counter.reset();
    await store.update(run, guard, { leaseUntil: at(90_000) });
    expect(counter.units().write).toBe(1);
    counter.reset();
    await store.update(run, guard, { progress: 0.5, feedback: "half" });
    expect(counter.units().write).toBe(1);
    expect((await store.get(run))?.params).toEqual({ blob: BLOB });

    // A list reads the hot item only: no item beside it, nothing from S3. Through a fresh store,
    // whose payload cache is empty, so a read of the payload would show as an S3 call.
    counter.reset();
    const page = await countedStore().list({ tenant: "acme", limit: 50 });
    const listed = page.items.find((item) => item.id === run.id);
    expect(listed).toMatchObject({ status: "running", feedback: "half" });
    expect(listed).not.toHaveProperty("params");
    expect(Object.keys(counter.snapshot()).filter((call) => call.startsWith("S3"))).toEqual([]);
    // One BatchGet of hot items: a second one would be the items beside them.
    expect(counter.snapshot()["DynamoDB.BatchGetItem"]).toBe(1);
  });
});
