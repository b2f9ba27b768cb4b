/**
 * GET /v1/tasks/{id}/events through the real local stack: a run's changes arrive as Server-Sent
 * Events until its end, for a runner key of its tenant or a read token of exactly that run.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exampleTasks } from "../../examples/index.ts";
import { createApiHandler } from "../../functions/api/handler.ts";
import { apiGatewayEvent, lambdaContext } from "../../local/http-server.ts";
import { ensureTenantKey } from "../../shared/app/identity.ts";
import { defineTask, HandlerRegistry } from "../../shared/core/task.ts";
import { newApiKey } from "../../shared/core/tenant.ts";
import { gates } from "../support/gates.ts";
import { openSse } from "../support/sse.ts";
import { startTestStack, type TestStack, waitFor, waitForEnd } from "../support/stack.ts";

/** Steps a test lets the run take, one at a time, so what the stream sees never depends on timing. */
const gated = gates();
const { gate, release } = gated;

const reporter = defineTask({
  handler: "reporter",
  async run(ctx) {
    for (const step of [1, 2]) {
      await gate(`${ctx.taskId}:${step}`);
      await ctx.progress(step / 2);
      await ctx.log(`step ${step}`);
    }
    await ctx.feedback("all done");
    return { steps: 2 };
  },
});

let stack: TestStack;
const otherKey = newApiKey().key;

beforeAll(async () => {
  stack = await startTestStack({
    registry: new HandlerRegistry([...exampleTasks, reporter]),
    events: { pollMs: 100 },
  });
  await ensureTenantKey(stack.services, { tenant: "events-other", role: "admin", key: otherKey });
  await stack.request("PUT", "/v1/definitions/reporter", { body: { handler: "reporter" } });
  await stack.request("PUT", "/v1/definitions/echo", { body: { handler: "echo" } });
});
afterAll(async () => {
  // A test that failed midway leaves its run at a gate; let every run finish so the stack stops.
  gated.releaseAll();
  await stack?.stop();
});

const start = async (definition: string) =>
  (await stack.request("POST", "/v1/tasks", { body: { definition, params: {} } })).body.taskId as string;
const eventsUrl = (id: string, query = "") => `${stack.url}/v1/tasks/${id}/events${query}`;
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

describe("GET /v1/tasks/{id}/events", () => {
  it("streams a snapshot, each progress and log line as it is written, then the end, and closes", async () => {
    const id = await start("reporter");
    const stream = await openSse(eventsUrl(id), bearer(stack.runnerKey));
    expect(stream.status).toBe(200);
    expect(stream.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    const first = await stream.next();
    expect(first?.event).toBe("snapshot");
    expect(first?.data.progress).toBeNull();

    release(`${id}:1`);
    const toFirstLog = await stream.until("log");
    expect(toFirstLog.map((frame) => frame.event)).toContain("progress");
    expect(toFirstLog.find((frame) => frame.event === "progress")?.data.progress).toBe(0.5);
    expect(toFirstLog.at(-1)?.data.line).toBe("step 1");
    expect(toFirstLog.at(-1)?.id).toBe("1");

    release(`${id}:2`);
    const rest = await stream.until("end");
    const end = rest.at(-1);
    expect(end?.event).toBe("end");
    expect(end?.data).toMatchObject({ status: "succeeded", output: { steps: 2 }, error: null });
    expect(rest.filter((frame) => frame.event === "log").map((frame) => frame.data.line)).toEqual(["step 2"]);
    expect(rest.find((frame) => frame.event === "progress")?.data.progress).toBe(1);
    expect(rest.find((frame) => frame.event === "feedback")?.data.feedback).toBe("all done");
    // Then the server closes the stream.
    expect(await stream.next()).toBeUndefined();
  });

  it("opens on an ended run with its snapshot, its log lines and its end; Last-Event-ID skips lines seen", async () => {
    const id = await start("reporter");
    release(`${id}:1`);
    release(`${id}:2`);
    await waitForEnd(stack, id);
    const fresh = await openSse(eventsUrl(id), bearer(stack.runnerKey));
    const frames = await fresh.until("end");
    expect(frames.map((frame) => frame.event)).toEqual(["snapshot", "log", "log", "end"]);
    expect(frames[0]?.data).toMatchObject({ status: "succeeded", progress: 1, feedback: "all done" });
    expect(await fresh.next()).toBeUndefined();

    const resumed = await openSse(eventsUrl(id), { ...bearer(stack.runnerKey), "last-event-id": "1" });
    const after = await resumed.until("end");
    expect(after.map((frame) => [frame.event, frame.data.line])).toEqual([
      ["snapshot", undefined],
      ["log", "step 2"],
      ["end", undefined],
    ]);
  });

  it("is for a runner key of the run's tenant or a read token of exactly this run", async () => {
    const id = await start("echo");
    const other = await start("echo");
    await waitForEnd(stack, id);

    const none = await openSse(eventsUrl(id));
    expect(none.status).toBe(401);
    expect((await none.json()).error).toBe("unauthorized");

    const foreign = await openSse(eventsUrl(id), bearer(otherKey));
    expect(foreign.status).toBe(404);
    expect((await foreign.json()).message).not.toContain("echo");

    const { token } = (await stack.request("POST", `/v1/tasks/${id}/read-token`)).body as { token: string };
    for (const stream of [
      await openSse(eventsUrl(id, `?token=${token}`)),
      await openSse(eventsUrl(id), bearer(token)),
    ]) {
      expect(stream.status).toBe(200);
      expect((await stream.until("end")).map((frame) => frame.event)).toEqual(["snapshot", "end"]);
    }

    // This run's token reads no other run, not even of its tenant; a forged token reads nothing.
    const elsewhere = await openSse(eventsUrl(other, `?token=${token}`));
    expect(elsewhere.status).toBe(404);
    const tampered = await openSse(eventsUrl(id, `?token=${token}x`));
    expect(tampered.status).toBe(401);
    // API keys never ride in the URL, where logs and browser history keep them.
    const keyInUrl = await openSse(eventsUrl(id, `?token=${stack.runnerKey}`));
    expect(keyInUrl.status).toBe(401);
    expect((await keyInUrl.json()).message).toContain("Authorization header");
  });

  it("refuses a query parameter it does not take, as the API's route does, rather than stream", async () => {
    const id = await start("echo");
    await waitForEnd(stack, id);
    for (const query of ["?since=0", `?token=x&__proto__=1&%F0%91%83%99=2`]) {
      const refused = await openSse(eventsUrl(id, query), bearer(stack.runnerKey));
      expect(refused.status).toBe(400);
      expect(await refused.json()).toMatchObject({ error: "validation_failed" });
    }
  });

  it("closes when the read token it was opened with expires, though the run goes on", async () => {
    const id = await start("reporter");
    // Claimed and held at its first gate: nothing about it changes while the token lasts.
    await waitFor(async () => {
      const { body } = await stack.request("GET", `/v1/tasks/${id}`);
      return body.status === "running" ? body : undefined;
    });
    const { token } = (await stack.request("POST", `/v1/tasks/${id}/read-token`, { body: { seconds: 2 } }))
      .body as { token: string };
    const stream = await openSse(eventsUrl(id, `?token=${token}`));
    expect(stream.status).toBe(200);
    const frames = await stream.until("end");
    expect(frames.map((frame) => frame.event)).toEqual(["snapshot"]);
    expect(stream.comments.at(-1)).toContain("maximum duration");
    release(`${id}:1`);
    release(`${id}:2`);
  });

  it("answers the opening frames alone where the server cannot stream (the HTTP API on AWS)", async () => {
    const id = await start("reporter");
    const api = createApiHandler(stack.services);
    const answer = await api(
      apiGatewayEvent({
        method: "GET",
        url: `/v1/tasks/${id}/events`,
        headers: { authorization: `Bearer ${stack.runnerKey}`, "last-event-id": "0" },
      }),
      lambdaContext(),
    );
    expect(answer.statusCode).toBe(200);
    expect(answer.headers?.["content-type"]).toBe("text/event-stream; charset=utf-8");
    // A retry, so an EventSource reconnects (polls), then the snapshot of the running run.
    expect(answer.body).toMatch(/^retry: \d+\n\nid: 0\nevent: snapshot\ndata: \{"type":"snapshot"/);
    const keyInUrl = await api(
      apiGatewayEvent({ method: "GET", url: `/v1/tasks/${id}/events?token=${stack.runnerKey}`, headers: {} }),
      lambdaContext(),
    );
    expect(keyInUrl.statusCode).toBe(401);
    release(`${id}:1`);
    release(`${id}:2`);
  });
});
