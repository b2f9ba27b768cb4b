/**
 * Traces: with OTEL_EXPORTER_OTLP_ENDPOINT set, a start, its queue wait, its attempt, the
 * handler's own span and the runs it leads to (a chain hop, a ctx.tasks.start) form one trace,
 * exported over OTLP/HTTP to a receiver this test runs.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestStack, type TestStack, waitFor, waitForEnd } from "../support/stack.ts";

interface ExportedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes: Record<string, unknown>;
}

const spans: ExportedSpan[] = [];
let receiver: Server;
let stack: TestStack | undefined;

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
}

/** OTLP/HTTP JSON: resourceSpans → scopeSpans → spans, attributes as key/value lists. */
function collect(body: string): void {
  const document = JSON.parse(body) as {
    resourceSpans: {
      scopeSpans: {
        spans: (Omit<ExportedSpan, "attributes"> & { attributes?: { key: string; value: OtlpValue }[] })[];
      }[];
    }[];
  };
  for (const resource of document.resourceSpans)
    for (const scope of resource.scopeSpans)
      for (const span of scope.spans) {
        const attributes = Object.fromEntries(
          (span.attributes ?? []).map(({ key, value }) => [
            key,
            value.stringValue ?? (value.intValue === undefined ? value.boolValue : Number(value.intValue)),
          ]),
        );
        spans.push({ ...span, attributes });
      }
}

beforeAll(async () => {
  receiver = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk: Buffer) => {
      body += chunk.toString("utf8");
    });
    request.on("end", () => {
      if (request.url === "/v1/traces") collect(body);
      response.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.stop();
  delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  await new Promise<void>((resolve) => receiver.close(() => resolve()));
});

const byTask = (taskId: string, name: string) =>
  spans.find((span) => span.name === name && span.attributes.taskId === taskId);

describe("traces", () => {
  it("join a start, its queue wait, its attempt, the handler's span and the runs it led to in one trace", async () => {
    const api = stack as TestStack;
    for (const [name, body] of [
      ["traced", { handler: "traced" }],
      ["echo", { handler: "echo" }],
      ["starter", { handler: "starter" }],
    ] as const) {
      await api.request("PUT", `/v1/definitions/${name}`, { body });
    }
    await api.request("PUT", "/v1/chains/then-echo", { body: { definition: "echo" } });

    const chained = await api.request("POST", "/v1/tasks", {
      body: { definition: "traced", chain: { name: "then-echo" } },
    });
    const source = await waitFor(async () => {
      const run = (await api.request("GET", `/v1/tasks/${chained.body.taskId}`)).body;
      return run.chainOutcomes.length > 0 ? run : undefined;
    });
    const hop = await waitForEnd(api, source.chainOutcomes[0].childTaskId);
    expect(hop.status).toBe("succeeded");

    const starter = await api.request("POST", "/v1/tasks", {
      body: { definition: "starter", params: { starts: [{ definition: "echo", key: "one" }] } },
    });
    const started = await waitForEnd(api, starter.body.taskId);
    const childId = started.output.results[0].taskId as string;
    expect((await waitForEnd(api, childId)).status).toBe("succeeded");

    const joined = (
      await api.request("POST", "/v1/tasks", {
        body: { definition: "echo" },
        headers: { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" },
      })
    ).body;
    const malformed = (
      await api.request("POST", "/v1/tasks", {
        body: { definition: "echo" },
        headers: { traceparent: "00-not-a-trace-01" },
      })
    ).body;
    expect((await waitForEnd(api, joined.taskId)).status).toBe("succeeded");
    expect((await waitForEnd(api, malformed.taskId)).status).toBe("succeeded");

    // Stopping the stack flushes the spans still batched.
    await api.stop();
    stack = undefined;

    const start = byTask(source.taskId, "baton.start");
    const queue = byTask(source.taskId, "baton.queue");
    const attempt = byTask(source.taskId, "baton.attempt");
    expect(start).toBeDefined();
    expect(start?.attributes).toMatchObject({ tenant: "acme", definition: "traced", trigger: "api" });
    expect(attempt?.attributes).toMatchObject({
      taskId: source.taskId,
      tenant: "acme",
      definition: "traced",
      attempt: 1,
    });
    const traceId = start?.traceId;
    expect(queue).toMatchObject({ traceId, parentSpanId: start?.spanId });
    expect(attempt).toMatchObject({ traceId, parentSpanId: start?.spanId });
    const own = spans.find((span) => span.name === "user.work");
    expect(own).toMatchObject({ traceId, parentSpanId: attempt?.spanId });
    // The chain hop: started during the source's attempt, run in the same trace.
    const hopStart = byTask(hop.taskId, "baton.start");
    expect(hopStart).toMatchObject({ traceId, parentSpanId: attempt?.spanId });
    expect(hopStart?.attributes).toMatchObject({ trigger: "chain" });
    expect(byTask(hop.taskId, "baton.attempt")).toMatchObject({ traceId, parentSpanId: hopStart?.spanId });

    // ctx.tasks.start: the child is in its starter's trace.
    const starterAttempt = byTask(started.taskId, "baton.attempt");
    const childStart = byTask(childId, "baton.start");
    expect(childStart).toMatchObject({
      traceId: starterAttempt?.traceId,
      parentSpanId: starterAttempt?.spanId,
    });
    expect(byTask(childId, "baton.attempt")?.traceId).toBe(starterAttempt?.traceId);
    expect(starterAttempt?.traceId).not.toBe(traceId);

    // The caller's own trace, sent as `traceparent`: the start is a child of the caller's span.
    const callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736";
    const callerSpan = "00f067aa0ba902b7";
    expect(byTask(joined.taskId, "baton.start")).toMatchObject({
      traceId: callerTrace,
      parentSpanId: callerSpan,
    });
    expect(byTask(joined.taskId, "baton.attempt")?.traceId).toBe(callerTrace);
    // A malformed one is ignored: the start begins a trace of its own.
    expect(byTask(malformed.taskId, "baton.start")?.parentSpanId).toBeFalsy();
  });
});
