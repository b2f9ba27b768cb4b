/**
 * Deploy fidelity: the synthesized app's own bundled handlers (the asset in the cloud assembly),
 * on tables and queues made from the template's own properties, driven with the events API
 * Gateway, SQS and EventBridge send, end to end; then an IAM check that every AWS operation each
 * function performed is allowed by its role policy in the template; and the sizes of the
 * answers, which API Gateway refuses past Lambda's 6 MB.
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { apiGatewayEvent } from "../../local/http-server.ts";
import { LIMITS } from "../../shared/core/limits.ts";
import {
  allowedBy,
  type Call,
  contextFor,
  type DeployedFunction,
  type DeployedStack,
  deployOnEmulators,
} from "../support/deployed-stack.ts";
import { uniquePrefix, waitFor } from "../support/stack.ts";

const rootKey = `root-${randomBytes(24).toString("hex")}`;
let stack: DeployedStack;
let adminKey: string;
/** The largest answer of the api Lambda, as the JSON payload Lambda returns to API Gateway. */
let largestResponse = { bytes: 0, route: "" };

beforeAll(async () => {
  stack = await deployOnEmulators({
    endpoints: inject("endpoints"),
    prefix: uniquePrefix(),
    rootKeySha256: createHash("sha256").update(rootKey).digest("hex"),
    fileTokenSecret: randomBytes(32).toString("hex"),
  });
}, 240_000);

afterAll(async () => {
  // The closing figure of issue 13: how large the api's answers got.
  console.info(`largest api response: ${largestResponse.bytes} bytes (${largestResponse.route})`);
  await stack?.stop();
});

async function api(
  method: string,
  path: string,
  options: { key?: string; body?: unknown } = {},
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers
): Promise<any> {
  const headers: Record<string, string> = { "content-type": "application/json", "user-agent": "fidelity" };
  const key = options.key ?? adminKey;
  if (key !== undefined) headers.authorization = `Bearer ${key}`;
  const event = apiGatewayEvent({
    method,
    url: path,
    headers,
    ...(options.body === undefined ? {} : { body: Buffer.from(JSON.stringify(options.body)) }),
  });
  const result = await stack.functions.api.invoke(event, contextFor(stack.functions.api));
  const bytes = Buffer.byteLength(JSON.stringify(result), "utf8");
  if (bytes > largestResponse.bytes) largestResponse = { bytes, route: `${method} ${path.split("?")[0]}` };
  return {
    status: result.statusCode,
    bytes,
    body: typeof result.body === "string" && result.body !== "" ? JSON.parse(result.body) : null,
  };
}

/** A queue's logical id from its construct id ("FairRunQueue" → "FairRunQueue1A2B3C4D"). */
const queueId = (constructId: "FairRunQueue" | "RunQueue" | "DelayQueue") => {
  const found = Object.entries(stack.template.Resources).find(
    ([id, r]) => r.Type === "AWS::SQS::Queue" && new RegExp(`^${constructId}[0-9A-F]{8}$`).test(id),
  );
  if (found === undefined) throw new Error(`${constructId} not in the template`);
  return found[0];
};

/**
 * Lambda's event source mapping: receives a batch, invokes the function with it, deletes the
 * records it did not report as failed. Until every named run has ended.
 */
async function deliver(fn: DeployedFunction, queue: string, until: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await until())) {
    if (Date.now() > deadline) throw new Error(`${fn.handlerName}: timed out delivering ${queue}`);
    const messages = await stack.receive(queue, 1);
    if (messages.length === 0) continue;
    const answer = await fn.invoke(stack.sqsEvent(queue, messages), contextFor(fn));
    const failed = new Set(
      (answer?.batchItemFailures ?? []).map((f: { itemIdentifier: string }) => f.itemIdentifier),
    );
    await stack.deleteMessages(
      queue,
      messages.filter((m) => !failed.has(m.MessageId ?? "")),
    );
  }
}

const statusOf = async (taskId: string) => (await api("GET", `/v1/tasks/${taskId}`)).body.status;
const ended = (taskId: string) => async () =>
  ["succeeded", "failed", "cancelled", "timed_out"].includes(await statusOf(taskId));

describe("the bundled functions, end to end", () => {
  it("was synthesized into one asset that the five functions share", () => {
    expect(existsSync(join(stack.assetDir, "index.mjs"))).toBe(true);
    expect(Object.keys(stack.functions).sort()).toEqual(["api", "events", "sweeper", "trigger", "worker"]);
  });

  it("api: the operator creates a tenant and its admin key; the admin registers a definition", async () => {
    // Its probes (a GetItem on every table, GetQueueAttributes, HeadBucket) go through the IAM check below.
    // Asked until it answers 200: on a busy machine a first probe may miss its 2 s budget.
    let health = await api("GET", "/health");
    await waitFor(async () => {
      if (health.status !== 200) health = await api("GET", "/health");
      return health.status === 200 ? true : undefined;
    }).catch(() => undefined); // still not 200: the body below says why
    expect(health.body).toEqual({
      ok: true,
      status: "ok",
      dependencies: { dynamodb: "ok", sqs: "ok", s3: "ok" },
    });
    expect((await api("POST", "/v1/tenants", { key: rootKey, body: { id: "acme" } })).status).toBe(201);
    const issued = await api("POST", "/v1/tenants/acme/keys", { key: rootKey, body: { role: "admin" } });
    expect(issued.status).toBe(201);
    adminKey = issued.body.key;
    expect((await api("GET", "/v1/tenant")).body).toMatchObject({ tenant: "acme", role: "admin" });
    const put = await api("PUT", "/v1/definitions/echo", {
      body: { handler: "echo", params: { greeting: "hi" } },
    });
    expect(put.status).toBe(201);
  });

  it("api → fair run queue → worker (SQS event) → succeeded", async () => {
    const started = await api("POST", "/v1/tasks", { body: { definition: "echo", params: { name: "Ada" } } });
    expect(started).toMatchObject({ status: 202, body: { status: "queued" } });
    const taskId = started.body.taskId;
    await deliver(stack.functions.worker, queueId("FairRunQueue"), ended(taskId));
    const run = (await api("GET", `/v1/tasks/${taskId}`)).body;
    expect(run).toMatchObject({ status: "succeeded", attempts: 1, output: { greeting: "hi", name: "Ada" } });

    // Its event stream, through the events function URL, for a read token in the URL.
    const { token } = (await api("POST", `/v1/tasks/${taskId}/read-token`)).body;
    const events = stack.functions.events;
    const streamed = (await events.invoke(
      apiGatewayEvent({ method: "GET", url: `/v1/tasks/${taskId}/events?token=${token}`, headers: {} }),
      contextFor(events),
    )) as { statusCode: number; headers: Record<string, string>; body: string };
    expect(streamed.statusCode).toBe(200);
    expect(streamed.headers["content-type"]).toBe("text/event-stream; charset=utf-8");
    expect(streamed.body).toContain("event: snapshot");
    expect(streamed.body).toContain('"type":"end","status":"succeeded"');
    const refused = (await events.invoke(
      apiGatewayEvent({ method: "GET", url: `/v1/tasks/${taskId}/events`, headers: {} }),
      contextFor(events),
    )) as { statusCode: number };
    expect(refused.statusCode).toBe(401);
  });

  it("a named queue's run: api → FIFO run queue → worker (SQS event) → succeeded", async () => {
    const started = await api("POST", "/v1/tasks", { body: { definition: "echo", queue: "line" } });
    expect(started).toMatchObject({ status: 202, body: { status: "queued" } });
    await deliver(stack.functions.worker, queueId("RunQueue"), ended(started.body.taskId));
    expect(await statusOf(started.body.taskId)).toBe("succeeded");
  });

  it("a delayed start: api → delay queue → trigger (SQS event) → worker", async () => {
    const started = await api("POST", "/v1/tasks", { body: { definition: "echo", after: 1_000 } });
    expect(started.body.status).toBe("scheduled");
    const taskId = started.body.taskId;
    await deliver(
      stack.functions.trigger,
      queueId("DelayQueue"),
      async () => (await statusOf(taskId)) !== "scheduled",
    );
    await deliver(stack.functions.worker, queueId("FairRunQueue"), ended(taskId));
    expect(await statusOf(taskId)).toBe("succeeded");
  });

  it("a cron schedule: the api creates it, and its payload (as EventBridge Scheduler delivers it) starts a run", async () => {
    const put = await api("PUT", "/v1/definitions/nightly", {
      body: {
        handler: "echo",
        schedule: { cron: "0 2 * * *", timezone: "Europe/Berlin", params: { from: "cron" } },
      },
    });
    expect(put.status).toBe(201);
    const [schedule] = stack.functions.api.schedules;
    expect(schedule).toMatchObject({
      ScheduleExpression: "cron(0 2 * * ? *)",
      ScheduleExpressionTimezone: "Europe/Berlin",
    });
    expect(schedule.Target.Arn).toBe(stack.functions.api.environment.BATON_TRIGGER_ARN);
    // Scheduler fills its context attributes in before it delivers the payload.
    const delivered = String(schedule.Target.Input).replaceAll(
      "<aws.scheduler.scheduled-time>",
      "2026-11-30T01:00:00Z",
    );
    const fired = await stack.functions.trigger.invoke(
      JSON.parse(delivered),
      contextFor(stack.functions.trigger),
    );
    expect(fired).toEqual({ outcome: "started" });
    const listed = (await api("GET", "/v1/tasks?definition=nightly")).body.items;
    expect(listed).toHaveLength(1);
    await deliver(stack.functions.worker, queueId("FairRunQueue"), ended(listed[0].taskId));
    expect((await api("GET", `/v1/tasks/${listed[0].taskId}`)).body).toMatchObject({
      status: "succeeded",
      trigger: "schedule",
      output: { from: "cron" },
    });
  });

  it("files: the worker writes to the bucket, the api hands out a link", async () => {
    await api("PUT", "/v1/definitions/write-file", { body: { handler: "write-file" } });
    const taskId = (
      await api("POST", "/v1/tasks", { body: { definition: "write-file", params: { name: "a.txt" } } })
    ).body.taskId;
    await deliver(stack.functions.worker, queueId("FairRunQueue"), ended(taskId));
    const run = (await api("GET", `/v1/tasks/${taskId}`)).body;
    expect(run).toMatchObject({ status: "succeeded", output: { FileName: "a.txt" } });
    const link = await api("GET", `/v1/tasks/${taskId}/files/a.txt/link`);
    expect(link.status).toBe(200);
    const download = await fetch(link.body.url);
    expect(await download.text()).toBe("Hello from Baton\n");
  });

  it("the sweeper runs on the EventBridge rule's scheduled event", async () => {
    const event = {
      version: "0",
      id: "00000000-0000-0000-0000-000000000000",
      "detail-type": "Scheduled Event",
      source: "aws.events",
      account: "000000000000",
      time: new Date().toISOString(),
      region: "us-east-1",
      resources: ["arn:aws:events:us-east-1:000000000000:rule/Baton-SweepSchedule"],
      detail: {},
    };
    await expect(
      stack.functions.sweeper.invoke(event, contextFor(stack.functions.sweeper)),
    ).resolves.not.toThrow();
    expect(stack.functions.sweeper.calls.some((call) => call.action === "dynamodb:Query")).toBe(true);
  });
});

describe("answers stay within Lambda's 6 MB response limit", () => {
  it("GET /v1/tasks?limit=100 over 100 runs with 64 KiB params answers summaries", async () => {
    await api("PUT", "/v1/definitions/bulky", { body: { handler: "echo" } });
    const blob = '"'.repeat(60 * 1024);
    for (let i = 0; i < 100; i += 1) {
      const started = await api("POST", "/v1/tasks", { body: { definition: "bulky", params: { blob, i } } });
      expect(started.status).toBe(202);
    }
    const listed = await api("GET", "/v1/tasks?definition=bulky&limit=100");
    expect(listed.status).toBe(200);
    const items = [...listed.body.items];
    for (let cursor = listed.body.cursor; cursor !== null; ) {
      const page = await api(
        "GET",
        `/v1/tasks?definition=bulky&limit=100&cursor=${encodeURIComponent(cursor)}`,
      );
      items.push(...page.body.items);
      cursor = page.body.cursor;
    }
    expect(new Set(items.map((task: { taskId: string }) => task.taskId)).size).toBe(100);
    // Before summaries, this answer was about 100 × 64 KiB × 2 (each '"' escaped twice): 13 MB.
    expect(listed.bytes).toBeLessThan(LIMITS.lambdaResponseBytes);
    expect(listed.bytes).toBeLessThan(200 * 1024);
    // The run page still has the params.
    const one = await api("GET", `/v1/tasks/${listed.body.items[0].taskId}`);
    expect(one.body.params.blob).toBe(blob);
    expect(one.bytes).toBeLessThan(LIMITS.lambdaResponseBytes);
  });

  it("GET /v1/definitions stops a page by size and the cursor leads through every definition", async () => {
    // 240 KiB of JSON each (every '"' is escaped), under the 256 KiB params limit.
    const blob = '"'.repeat(120 * 1024);
    for (let i = 0; i < 12; i += 1) {
      const put = await api("PUT", `/v1/definitions/big-${String(i).padStart(2, "0")}`, {
        body: { handler: "echo", params: { blob } },
      });
      expect(put.status).toBe(201);
    }
    const names: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await api(
        "GET",
        `/v1/definitions?limit=100${cursor === null ? "" : `&cursor=${encodeURIComponent(cursor)}`}`,
      );
      expect(page.status).toBe(200);
      expect(page.bytes).toBeLessThan(LIMITS.lambdaResponseBytes);
      names.push(...page.body.items.map((d: { name: string }) => d.name));
      cursor = page.body.cursor;
      pages += 1;
    } while (cursor !== null);
    const big = names.filter((name) => name.startsWith("big-"));
    expect(big).toEqual(Array.from({ length: 12 }, (_, i) => `big-${String(i).padStart(2, "0")}`));
    expect(new Set(names).size).toBe(names.length);
    // 12 definitions of 240 KiB each (as JSON) cannot share one 2.5 MB page.
    expect(pages).toBeGreaterThanOrEqual(2);
  });

  it("a single run at its limits (1 MiB params, 1 MiB output) answers under 6 MB, whatever it holds", async () => {
    // Params at their 1 MiB limit (claim-checked to S3), all characters that JSON escapes: each
    // '"' is 2 bytes of the body and 4 of the Lambda payload. echo answers them as its output.
    const blob = '"'.repeat(Math.floor((LIMITS.paramsBytes - 20) / 2));
    const started = await api("POST", "/v1/tasks", { body: { definition: "bulky", params: { blob } } });
    expect(started.status).toBe(202);
    await deliver(stack.functions.worker, queueId("FairRunQueue"), ended(started.body.taskId));
    const run = await api("GET", `/v1/tasks/${started.body.taskId}`);
    expect(run.status).toBe(200);
    expect(run.body.params.blob).toBe(blob);
    expect(run.body.output?.blob).toBe(blob);
    expect(run.bytes).toBeGreaterThan(4 * LIMITS.paramsBytes - 1024);
    expect(run.bytes).toBeLessThan(LIMITS.lambdaResponseBytes);
  });
});

describe("IAM: each function may do what it did", () => {
  const check = (fn: DeployedFunction) => {
    const statements = stack.statementsOf(fn.roleId);
    const unique = [...new Map(fn.calls.map((call) => [`${call.action} ${call.resource}`, call])).values()];
    return { unique, refused: unique.filter((call) => !allowedBy(statements, call, stack.resolve)) };
  };

  for (const name of ["api", "events", "worker", "trigger", "sweeper"] as const) {
    it(`${name}: every operation it performed is allowed by its role policy`, () => {
      const { unique, refused } = check(stack.functions[name]);
      expect(unique.length).toBeGreaterThan(0);
      expect(refused).toEqual([]);
    });
  }

  it("saw the operations that matter, on the resources that matter", () => {
    const actions = (name: keyof DeployedStack["functions"]) =>
      new Set(stack.functions[name].calls.map((call) => call.action));
    expect([...actions("api")]).toEqual(
      expect.arrayContaining([
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:Query",
        "dynamodb:BatchGetItem",
        "sqs:SendMessage",
        "scheduler:CreateSchedule",
        "iam:PassRole",
        "s3:GetObject",
      ]),
    );
    expect([...actions("worker")]).toEqual(
      expect.arrayContaining(["dynamodb:UpdateItem", "s3:PutObject", "s3:GetObject"]),
    );
    expect([...actions("trigger")]).toEqual(
      expect.arrayContaining(["dynamodb:UpdateItem", "sqs:SendMessage"]),
    );
  });

  it("the check refuses what a policy does not grant", () => {
    const tenants = Object.keys(stack.physical).find((id) => id.startsWith("Tablestenants"));
    const bucket = Object.entries(stack.template.Resources).find(
      ([, r]) => r.Type === "AWS::S3::Bucket",
    )?.[0];
    const forbidden: Array<[DeployedFunction, Call]> = [
      [
        stack.functions.worker,
        { action: "dynamodb:PutItem", resource: stack.physical[tenants ?? ""]?.arn ?? "" },
      ],
      [
        stack.functions.api,
        { action: "s3:DeleteObject", resource: `${stack.physical[bucket ?? ""]?.arn}/acme/x` },
      ],
      [
        stack.functions.sweeper,
        {
          action: "scheduler:CreateSchedule",
          resource: "arn:aws:scheduler:us-east-1:000000000000:schedule/x/y",
        },
      ],
      [
        stack.functions.api,
        {
          action: "iam:PassRole",
          resource: stack.functions.api.environment.BATON_SCHEDULER_ROLE_ARN ?? "",
          passedToService: "lambda.amazonaws.com",
        },
      ],
    ];
    for (const [fn, call] of forbidden) {
      expect(
        allowedBy(stack.statementsOf(fn.roleId), call, stack.resolve),
        `${fn.handlerName} ${call.action}`,
      ).toBe(false);
    }
  });
});
