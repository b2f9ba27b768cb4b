/** Callback tasks and subtext, through the real handlers on the emulators. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sweep } from "../../shared/app/sweeper.ts";
import { newCallbackToken } from "../../shared/core/callback-token.ts";
import { handedOutToken } from "../support/callback-token.ts";
import { startTestStack, type TestStack, waitFor, waitForEnd } from "../support/stack.ts";

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ leaseSeconds: 3 });
  await stack.request("PUT", "/v1/definitions/report", {
    body: { handler: "await-callback", mode: "callback", params: { report: "q3" } },
  });
});
afterAll(async () => {
  await stack?.stop();
});

/** Starts a callback task and waits until it awaits; returns its id and the token its handler handed out. */
async function awaitingTask(definition = "report"): Promise<{ taskId: string; token: string }> {
  const started = await stack.request("POST", "/v1/tasks", { body: { definition } });
  const taskId: string = started.body.taskId;
  const task = await waitFor(async () => {
    const body = (await stack.request("GET", `/v1/tasks/${taskId}`)).body;
    return body.status === "awaiting" ? body : undefined;
  });
  expect(JSON.stringify(task)).not.toContain("callbackToken");
  const token = await handedOutToken(taskId);
  if (token === undefined) throw new Error("the handler handed out no token");
  return { taskId, token };
}

const callback = (token: string | null, body: unknown) =>
  stack.request("POST", "/v1/callbacks", { key: token, body });

describe("callback tasks", () => {
  it("applies the documented payload: succeeded, stamped log lines, merged output, subtext", async () => {
    const { taskId, token } = await awaitingTask();
    const before = Date.now();
    const response = await callback(
      token,
      JSON.parse(
        `{"taskId": "${taskId}", "logs": "line one\\nline two", "status": "SUCCESS", "output": {"zipFileLocation": "https://example.com/jpeg"}, "subtext": "Completed with 90/100 passing"}`,
      ),
    );
    expect(response.status).toBe(200);
    const task = (await stack.request("GET", `/v1/tasks/${taskId}`)).body;
    expect(task).toMatchObject({
      status: "succeeded",
      subtext: "Completed with 90/100 passing",
      output: { requested: { report: "q3" }, zipFileLocation: "https://example.com/jpeg" },
      error: null,
    });
    const received = task.logs.slice(-2);
    expect(received.map((l: { line: string }) => l.line)).toEqual(["line one", "line two"]);
    for (const line of received) {
      expect(Date.parse(line.at)).toBeGreaterThanOrEqual(before - 5);
      expect(Date.parse(line.at)).toBeLessThanOrEqual(Date.now());
    }
    expect(received[0].at).toBe(received[1].at);

    // The attacker replays the captured token: 401, no status learned, nothing changed.
    const replay = await callback(token, { taskId, status: "FAILURE", subtext: "again" });
    expect(replay.status).toBe(401);
    expect(JSON.stringify(replay.body)).not.toContain("succeeded");
    expect((await stack.request("GET", `/v1/tasks/${taskId}`)).body).toEqual(task);
    // A progress replay too.
    expect((await callback(token, { taskId, logs: "sneaky" })).status).toBe(401);
    // The run's own key still learns the state: 409.
    expect((await callback(stack.runnerKey, { taskId, status: "FAILURE" })).status).toBe(409);
  });

  it("keeps awaiting on a callback without status, one log line per array entry", async () => {
    const { taskId, token } = await awaitingTask();
    const progress = await callback(token, { taskId, logs: ["50% done", "still going"], subtext: "halfway" });
    expect(progress.status).toBe(200);
    expect(progress.body).toMatchObject({ status: "awaiting", subtext: "halfway" });
    await callback(token, { taskId, status: "FAILURE", logs: "broke" });
    const task = await waitForEnd(stack, taskId);
    expect(task).toMatchObject({ status: "failed", error: { code: "callback_failure" } });
    expect(task.logs.map((l: { line: string }) => l.line).slice(-3)).toEqual([
      "50% done",
      "still going",
      "broke",
    ]);
  });

  it("accepts a tenant runner key with the taskId, and refuses wrong credentials", async () => {
    const { taskId, token } = await awaitingTask();
    const other = await awaitingTask();
    expect((await callback(null, { taskId, status: "SUCCESS" })).status).toBe(401);
    expect((await callback(newCallbackToken("acme").token, { taskId, status: "SUCCESS" })).status).toBe(401);
    expect((await callback(other.token, { taskId, status: "SUCCESS" })).status).toBe(401);
    expect(
      (await callback(token.replace("bcb.acme.", "bcb.globex."), { taskId, status: "SUCCESS" })).status,
    ).toBe(401);
    await stack.request("POST", "/v1/tenants", { key: stack.rootKey, body: { id: "globex" } });
    const globex = await stack.request("POST", "/v1/tenants/globex/keys", {
      key: stack.rootKey,
      body: { role: "runner" },
    });
    expect((await callback(globex.body.key, { taskId, status: "SUCCESS" })).status).toBe(404);
    expect((await stack.request("GET", `/v1/tasks/${taskId}`)).body.status).toBe("awaiting");
    const byKey = await callback(stack.runnerKey, { taskId, status: "SUCCESS" });
    expect(byKey.body.status).toBe("succeeded");
  });

  it("lets exactly one of racing SUCCESS and FAILURE callbacks win", async () => {
    const { taskId, token } = await awaitingTask();
    const answers = await Promise.all([
      callback(token, { taskId, status: "SUCCESS", subtext: "yes" }),
      callback(token, { taskId, status: "FAILURE", subtext: "no" }),
      callback(token, { taskId, status: "SUCCESS", subtext: "yes again" }),
    ]);
    const winners = answers.filter((a) => a.status === 200);
    expect(winners).toHaveLength(1);
    // The losers hold a token that is spent (or a run that no longer awaits): 401.
    expect(answers.filter((a) => a.status === 401)).toHaveLength(2);
    const task = (await stack.request("GET", `/v1/tasks/${taskId}`)).body;
    expect(task.status).toBe(winners[0]?.body.status);
    expect(task.subtext).toBe(winners[0]?.body.subtext);
  });

  it("refuses bad callback bodies with 400", async () => {
    const { taskId, token } = await awaitingTask();
    for (const body of [
      { taskId, status: "DONE" },
      { taskId, logs: 7 },
      { taskId, output: [1] },
      { status: "SUCCESS" },
      { taskId, status: "SUCCESS", extra: 1 },
    ]) {
      const response = await callback(token, body);
      expect(response.status, JSON.stringify(body)).toBe(400);
    }
    expect((await stack.request("GET", `/v1/tasks/${taskId}`)).body.status).toBe("awaiting");
  });

  it("ends timed_out when no final callback comes by the deadline, and frees the slot", async () => {
    await stack.request("PUT", "/v1/definitions/short-wait", {
      body: { handler: "await-callback", mode: "callback", callbackTimeoutSeconds: 1, maxConcurrency: 1 },
    });
    const { taskId, token } = await awaitingTask("short-wait");
    const next = await stack.request("POST", "/v1/tasks", { body: { definition: "short-wait" } });
    expect(next.body.status).toBe("waiting");
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const late = await callback(token, { taskId, status: "SUCCESS" });
    expect(late.status).toBe(409);
    expect((await stack.request("GET", `/v1/tasks/${taskId}`)).body).toMatchObject({
      status: "timed_out",
      error: { code: "callback_timed_out" },
    });
    await waitFor(async () =>
      (await stack.request("GET", `/v1/tasks/${next.body.taskId}`)).body.status === "awaiting"
        ? true
        : undefined,
    );
    // Without any callback, the sweeper ends it after its deadline.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect((await sweep(stack.services)).ended).toBeGreaterThanOrEqual(1);
    expect((await stack.request("GET", `/v1/tasks/${next.body.taskId}`)).body.status).toBe("timed_out");
  });

  it("cancels an awaiting run", async () => {
    const { taskId, token } = await awaitingTask();
    expect((await stack.request("POST", `/v1/tasks/${taskId}/cancel`)).body.status).toBe("cancelled");
    expect((await callback(token, { taskId, status: "SUCCESS" })).status).toBe(401);
    expect((await callback(stack.runnerKey, { taskId, status: "SUCCESS" })).status).toBe(409);
  });
});

describe("subtext", () => {
  it("can be set on a run in any status, and is validated", async () => {
    await stack.request("PUT", "/v1/definitions/plain", { body: { handler: "echo" } });
    const started = await stack.request("POST", "/v1/tasks", { body: { definition: "plain" } });
    await waitForEnd(stack, started.body.taskId);
    const patched = await stack.request("PATCH", `/v1/tasks/${started.body.taskId}`, {
      key: stack.runnerKey,
      body: { subtext: "checked by ops" },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ status: "succeeded", subtext: "checked by ops" });
    expect(
      (
        await stack.request("PATCH", `/v1/tasks/${started.body.taskId}`, {
          body: { subtext: "x".repeat(2_001) },
        })
      ).status,
    ).toBe(400);
    expect(
      (await stack.request("PATCH", "/v1/tasks/01HZZZZZZZZZZZZZZZZZZZZZZZ", { body: { subtext: "x" } }))
        .status,
    ).toBe(404);
  });
});
