/**
 * The built `baton` binary against a real local stack: each test runs it as a child process with
 * BATON_URL/BATON_KEY, and checks what a person (or a script with --json) would see.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import getPort from "get-port";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handedOutToken } from "../support/callback-token.ts";
import { startTestStack, type TestStack, waitFor } from "../support/stack.ts";
import { runBaton } from "./run-cli.ts";

let stack: TestStack;
let env: Record<string, string>;
let work: string;

beforeAll(async () => {
  // The CLI as `npm install` builds it (without the type declarations, which the CLI does not need).
  execFileSync(process.execPath, ["scripts/build.mjs", "--no-types"], {
    cwd: join(import.meta.dirname, "..", ".."),
  });
  stack = await startTestStack();
  env = { BATON_URL: stack.url, BATON_KEY: stack.adminKey };
  work = mkdtempSync(join(tmpdir(), "baton-cli-"));
  await stack.request("PUT", "/v1/definitions/echo", { body: { handler: "echo" } });
  await stack.request("PUT", "/v1/definitions/fail", { body: { handler: "fail", maxAttempts: 1 } });
  await stack.request("PUT", "/v1/definitions/sleep", { body: { handler: "sleep" } });
});

afterAll(async () => {
  await stack?.stop();
});

function file(name: string, content: unknown): string {
  const path = join(work, name);
  writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content));
  return path;
}

describe("definitions", () => {
  it("puts a definition from a file, lists, gets and deletes it", async () => {
    const path = file("def.json", {
      name: "greet",
      handler: "echo",
      params: { greeting: "hi" },
      maxConcurrency: 2,
    });
    const created = await runBaton(["definitions", "put", "-f", path], { env });
    expect(created).toMatchObject({ code: 0, stdout: "created definition greet\n" });
    const replaced = await runBaton(["definitions", "put", "-f", path, "--json"], { env });
    expect(replaced.code).toBe(0);
    expect(JSON.parse(replaced.stdout)).toMatchObject({
      created: false,
      definition: { name: "greet", maxConcurrency: 2 },
    });

    const list = await runBaton(["--json", "definitions", "list"], { env });
    expect(JSON.parse(list.stdout).items.map((d: { name: string }) => d.name)).toContain("greet");
    const table = await runBaton(["definitions", "list"], { env });
    expect(table.stdout).toMatch(/^NAME\s+HANDLER\s+LIMITS/);
    expect(table.stdout).toMatch(/greet\s+echo\s+concurrency 2/);

    const got = await runBaton(["definitions", "get", "greet"], { env });
    expect(JSON.parse(got.stdout)).toMatchObject({ name: "greet", params: { greeting: "hi" } });

    expect(await runBaton(["definitions", "delete", "greet"], { env })).toMatchObject({ code: 0 });
    const gone = await runBaton(["definitions", "get", "greet"], { env });
    expect(gone.code).toBe(3);
    expect(gone.stderr).toContain('definition "greet" does not exist');
    expect(gone.stderr).toContain("HTTP 404 not_found");
  });

  it("refuses a definition file that is not JSON or has no name, as usage errors", async () => {
    const bad = await runBaton(["definitions", "put", "-f", file("bad.json", "{nope")], { env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("is not valid JSON");
    const nameless = await runBaton(
      ["definitions", "put", "-f", file("nameless.json", { handler: "echo" })],
      { env },
    );
    expect(nameless.code).toBe(2);
    expect(nameless.stderr).toContain("give the definition a name");
    const missing = await runBaton(["definitions", "put", "-f", join(work, "absent.json")], { env });
    expect(missing).toMatchObject({ code: 2 });
    expect(missing.stderr).toContain("ENOENT");
  });
});

describe("start, watch, status", () => {
  it("starts with params (JSON when valid, else text) and watches it to success", async () => {
    const paramsFile = file("params.json", { fromFile: true, name: "overridden" });
    const started = await runBaton(
      ["start", "echo", "--param", "name=Ada", "-p", "n=3", "-p", "tags=[1,2]", "--params-file", paramsFile],
      { env },
    );
    expect(started.code).toBe(0);
    const taskId = started.stdout.trim();
    expect(taskId).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(started.stderr).toMatch(/started echo: (queued|running|succeeded)/);

    const watched = await runBaton(["watch", taskId], { env });
    expect(watched.code).toBe(0);
    expect(watched.stdout).toContain("100%");
    expect(watched.stdout).toContain(`task ${taskId} has succeeded`);

    const status = await runBaton(["status", taskId, "--json"], { env });
    const view = JSON.parse(status.stdout);
    expect(view).toMatchObject({ taskId, status: "succeeded" });
    expect(view.params).toEqual({ name: "Ada", n: 3, tags: [1, 2], fromFile: true });
    const human = await runBaton(["status", taskId], { env });
    expect(human.stdout).toMatch(/status:\s+succeeded/);
  });

  it("shows the run's progress and feedback while watching", async () => {
    const { stdout, code } = await runBaton(["start", "sleep", "-p", "ms=900", "-p", "steps=3", "--watch"], {
      env,
    });
    expect(code).toBe(0);
    const lines = stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^[A-Za-z0-9_-]+$/); // the task id first
    expect(stdout).toMatch(/\[#{24}\] 100%\s+succeeded\s+attempt 1 of 3\s+step 3\/3/);
    expect(lines.at(-1)).toBe('output: {"slept":900}');
  });

  it("shows attempts while watching, and how many the run took", async () => {
    await stack.request("PUT", "/v1/definitions/fail-twice", { body: { handler: "fail", maxAttempts: 2 } });
    const { stdout, code } = await runBaton(["start", "fail-twice", "-p", "message=flaky", "--watch"], {
      env,
    });
    expect(code).toBe(1);
    expect(stdout).toMatch(/failed\s+attempt 2 of 2/);
    expect(stdout).toMatch(/has failed in [\d.]+ s after 2 attempts: handler_error: flaky/);
  });

  it("exits 1 when the watched run fails, with its error", async () => {
    const started = await runBaton(["start", "fail", "-p", "nonRetriable=true", "-p", "message=boom"], {
      env,
    });
    const taskId = started.stdout.trim();
    const watched = await runBaton(["watch", taskId], { env });
    expect(watched.code).toBe(1);
    expect(watched.stdout).toContain(`task ${taskId} has failed`);
    expect(watched.stdout).toContain("boom");
    const json = await runBaton(["watch", taskId, "--json"], { env });
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ taskId, status: "failed" });

    const logs = await runBaton(["logs", taskId], { env });
    expect(logs.code).toBe(0);
    expect(logs.stdout).toMatch(/^\d{4}-\d\d-\d\dT\S+ {2}boom$/m);
    const jsonLogs = await runBaton(["logs", taskId, "--json"], { env });
    expect(JSON.parse(jsonLogs.stdout)).toEqual([{ at: expect.any(String), line: "boom" }]);
    const followed = await runBaton(["logs", taskId, "--follow"], { env });
    expect(followed).toMatchObject({ code: 0 });
    expect(followed.stdout.trim().split("\n")).toHaveLength(1);
  });

  it("starts later and cancels; a second cancel is a conflict", async () => {
    const started = await runBaton(["start", "echo", "--after", "1h", "--json"], { env });
    const { taskId, status } = JSON.parse(started.stdout);
    expect(status).toBe("scheduled");
    const view = (await stack.request("GET", `/v1/tasks/${taskId}`)).body;
    const delay = Date.parse(view.scheduledFor) - Date.parse(view.createdAt);
    expect(delay).toBeGreaterThan(3_590_000);
    expect(delay).toBeLessThanOrEqual(3_600_000);

    const cancelled = await runBaton(["cancel", taskId], { env });
    expect(cancelled).toMatchObject({ code: 0, stdout: `task ${taskId} was cancelled\n` });
    const again = await runBaton(["cancel", taskId], { env });
    expect(again.code).toBe(3);
    expect(again.stderr).toContain("HTTP 409 conflict");
  });

  it("replays a run with a param over the original's, and follows the new run", async () => {
    const started = await runBaton(["start", "echo", "-p", "name=Ada", "-p", "n=1", "--watch", "--json"], {
      env,
    });
    const { taskId } = JSON.parse(started.stdout);
    const replayed = await runBaton(["replay", taskId, "-p", "name=Grace", "--watch"], { env });
    expect(replayed.code).toBe(0);
    const replayId = replayed.stdout.trim().split("\n")[0];
    expect(replayId).not.toBe(taskId);
    expect(replayed.stderr).toContain(`replayed ${taskId}`);
    const view = (await stack.request("GET", `/v1/tasks/${replayId}`)).body;
    expect(view).toMatchObject({ replayOf: taskId, trigger: "replay", params: { name: "Grace", n: 1 } });
    const unknown = await runBaton(["replay", "no-such-task"], { env });
    expect(unknown.code).toBe(3);
  });

  it("starts with a priority, and debounced: a second start in the window joins the first's run", async () => {
    const urgent = await runBaton(["start", "echo", "--priority", "7", "--json"], { env });
    expect(urgent.code).toBe(0);
    const urgentId = JSON.parse(urgent.stdout).taskId;
    expect((await stack.request("GET", `/v1/tasks/${urgentId}`)).body.priority).toBe(7);
    const debounce = ["--debounce-key", "cli-burst", "--debounce-ms", "60000"];
    const first = await runBaton(["start", "echo", "-p", "n=1", ...debounce], { env });
    const second = await runBaton(["start", "echo", "-p", "n=2", ...debounce], { env });
    expect(first.code).toBe(0);
    expect(first.stderr).toContain("debounced: opened a window");
    expect(second.stdout.trim()).toBe(first.stdout.trim());
    expect(second.stderr).toContain("scheduled (debounced: joined the open window's run)");
    const run = (await stack.request("GET", `/v1/tasks/${first.stdout.trim()}`)).body;
    expect(run).toMatchObject({ status: "scheduled", params: { n: 2 } });
    await stack.request("POST", `/v1/tasks/${run.taskId}/cancel`);
  });

  it("replays an idempotent start", async () => {
    const first = await runBaton(["start", "echo", "--idempotency-key", "cli-once", "--json"], { env });
    const second = await runBaton(["start", "echo", "--idempotency-key", "cli-once"], { env });
    expect(second.stdout.trim()).toBe(JSON.parse(first.stdout).taskId);
    expect(second.stderr).toContain("idempotent repeat");
  });
});

describe("bulk", () => {
  it("counts with --dry-run, cancels what a filter matches and waits for the end, then shows its status", async () => {
    await stack.request("PUT", "/v1/definitions/bulk-later", { body: { handler: "echo" } });
    const ids = await Promise.all(
      [1, 2, 3].map(
        async () =>
          JSON.parse((await runBaton(["start", "bulk-later", "--after", "1h", "--json"], { env })).stdout)
            .taskId,
      ),
    );
    const counted = await runBaton(
      [
        "bulk",
        "cancel",
        "--definition",
        "bulk-later",
        "--status",
        "scheduled",
        "--dry-run",
        "--wait",
        "--json",
      ],
      { env },
    );
    expect(counted.code).toBe(0);
    expect(JSON.parse(counted.stdout)).toMatchObject({ status: "done", dryRun: true, matched: 3, acted: 0 });

    const cancelled = await runBaton(["bulk", "cancel", "--definition", "bulk-later", "--wait"], { env });
    expect(cancelled.code).toBe(0);
    expect(cancelled.stdout).toMatch(/^bulk \S+ done: matched 3, cancelled 3\n$/);
    for (const id of ids)
      expect((await stack.request("GET", `/v1/tasks/${id}`)).body.status).toBe("cancelled");

    const started = await runBaton(["bulk", "cancel", "--definition", "bulk-later"], { env });
    const bulkId = started.stdout.trim();
    expect(started.stderr).toContain(`baton bulk status ${bulkId}`);
    const status = await runBaton(["bulk", "status", bulkId, "--wait"], { env });
    expect(status.stdout).toBe(`bulk ${bulkId} done: matched 3, cancelled 0; skipped 3 (already_ended: 3)\n`);

    const bad = await runBaton(["bulk", "replay", "--created-after", "yesterday"], { env });
    expect(bad.code).toBe(2);
  });
});

describe("callbacks", () => {
  it("reports progress with the key, then ends the run with its callback token", async () => {
    await stack.request("PUT", "/v1/definitions/await-callback", {
      body: { handler: "await-callback", mode: "callback" },
    });
    const taskId = (await runBaton(["start", "await-callback"], { env })).stdout.trim();
    const token = await waitFor(async () => {
      const { body } = await stack.request("GET", `/v1/tasks/${taskId}`);
      if (body.status !== "awaiting") return undefined;
      return handedOutToken(taskId);
    });

    const progress = await runBaton(["callback", taskId, "--log", "half way", "--subtext", "50/100"], {
      env,
    });
    expect(progress).toMatchObject({ code: 0, stdout: `task ${taskId} is awaiting its callback\n` });

    // The outside system has no API key, only the token.
    const done = await runBaton(
      [
        "callback",
        taskId,
        "--status",
        "SUCCESS",
        "--log",
        "one",
        "--log",
        "two",
        "-o",
        "url=https://x.test/a",
        "-o",
        "score=90",
        "--json",
      ],
      { env: { BATON_URL: stack.url, BATON_CALLBACK_TOKEN: token }, cwd: work },
    );
    expect(done.code).toBe(0);
    const view = JSON.parse(done.stdout);
    expect(view).toMatchObject({
      status: "succeeded",
      subtext: "50/100",
      output: { url: "https://x.test/a", score: 90 },
    });
    expect(view.logs.map((l: { line: string }) => l.line).slice(-3)).toEqual(["half way", "one", "two"]);

    const late = await runBaton(["callback", taskId, "--status", "FAILURE"], { env });
    expect(late.code).toBe(3);
    expect(late.stderr).toContain("not awaiting a callback");
    const badStatus = await runBaton(["callback", taskId, "--status", "DONE"], { env });
    expect(badStatus.code).toBe(2);
  });
});

describe("tasks list", () => {
  it("lists runs by definition and status, as a table or JSON", async () => {
    const json = await runBaton(
      ["tasks", "list", "--definition", "echo", "--status", "succeeded", "--limit", "5", "--json"],
      { env },
    );
    expect(json.code).toBe(0);
    const page = JSON.parse(json.stdout);
    expect(page.items.length).toBeGreaterThan(0);
    expect(
      page.items.every(
        (t: { definition: string; status: string }) => t.definition === "echo" && t.status === "succeeded",
      ),
    ).toBe(true);
    const table = await runBaton(["tasks", "list", "--limit", "2"], { env });
    expect(table.stdout).toMatch(/^TASK\s+DEFINITION\s+STATUS\s+PROGRESS\s+CREATED\n/);
    expect(table.stdout.trim().split("\n")).toHaveLength(3);
    expect(table.stderr).toMatch(/^more: --cursor \S+/);
  });
});

describe("usage and API errors", () => {
  it.each([
    [["frobnicate"], "unknown command 'frobnicate'"],
    [["start", "echo", "--bogus"], "unknown option '--bogus'"],
    [["start", "echo", "--after", "10"], "give a number with a unit"],
    [["start", "echo", "--at", "2026-05-01T09:00:00"], "with a zone"],
    [["start", "echo", "-p", "novalue"], 'expected key=value, got "novalue"'],
    [["start", "echo", "--after", "1s", "--at", "2030-01-01T00:00:00Z"], "cannot be used with"],
    [["start", "echo", "--priority", "10"], "from 0 to 9"],
    [["start", "echo", "--priority", "1", "--queue", "q"], "cannot be used with"],
    [["start", "echo", "--debounce-key", "k"], "--debounce-key and --debounce-ms go together"],
    [["start", "echo", "--debounce-key", "k", "--debounce-ms", "5", "--after", "1s"], "cannot be used with"],
    [["tasks", "list", "--status", "done"], "Allowed choices are scheduled, waiting"],
    [["tasks", "list", "--limit", "500"], "from 1 to 100"],
    [["watch"], "missing required argument 'taskId'"],
  ])("baton %j is a usage error (exit 2)", { concurrent: true }, async (args, message) => {
    const result = await runBaton(args, { env });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
    expect(result.stderr).toContain("--help");
    expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it("prints help for every command", async () => {
    const top = await runBaton(["--help"]);
    expect(top.code).toBe(0);
    expect(top.stdout).toContain("Exit codes:");
    expect(top.stdout).toContain(".baton/dev-key");
    expect(await runBaton(["--version"])).toMatchObject({ code: 0, stdout: "0.1.0\n" });
    const commands = [
      ["dev"],
      ["definitions", "put"],
      ["start"],
      ["watch"],
      ["logs"],
      ["callback"],
      ["tasks", "list"],
      ["bulk", "cancel"],
      ["bulk", "status"],
    ];
    const helps = await Promise.all(commands.map((command) => runBaton([...command, "--help"])));
    commands.forEach((command, index) => {
      expect(helps[index]?.code, command.join(" ")).toBe(0);
      expect(helps[index]?.stdout).toContain(`Usage: baton ${command.join(" ")}`);
    });
  });

  it("names an unknown run, a wrong key and an unreachable API clearly (exit 3)", async () => {
    const unknown = await runBaton(["status", "no-such-task"], { env });
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toBe('baton: task "no-such-task" does not exist (HTTP 404 not_found)\n');

    const wrongKey = await runBaton(["tasks", "list"], {
      env: { ...env, BATON_KEY: "bk_000000000000_nope" },
    });
    expect(wrongKey.code).toBe(3);
    expect(wrongKey.stderr).toContain("HTTP 401 unauthorized");

    const port = await getPort();
    const down = await runBaton(["status", "x", "--url", `http://127.0.0.1:${port}`], { env });
    expect(down.code).toBe(3);
    expect(down.stderr).toContain(`cannot reach Baton at http://127.0.0.1:${port} (ECONNREFUSED)`);
  });

  it("with --json, prints its errors as JSON too: API errors, usage errors, no connection", async () => {
    const unknown = await runBaton(["--json", "status", "no-such-task"], { env });
    expect(unknown.code).toBe(3);
    expect(JSON.parse(unknown.stderr)).toEqual({
      error: "not_found",
      message: 'task "no-such-task" does not exist',
      status: 404,
    });

    const usage = await runBaton(["start", "echo", "--after", "10", "--json"], { env });
    expect(usage.code).toBe(2);
    expect(JSON.parse(usage.stderr)).toMatchObject({ error: "usage_error" });
    expect(JSON.parse(usage.stderr).message).toContain("give a number with a unit");
    const unknownCommand = await runBaton(["--json", "frobnicate"], { env });
    expect(unknownCommand.code).toBe(2);
    expect(JSON.parse(unknownCommand.stderr).message).toContain("unknown command 'frobnicate'");

    const port = await getPort();
    const down = await runBaton(["--json", "tasks", "list", "--url", `http://127.0.0.1:${port}`], { env });
    expect(down.code).toBe(3);
    expect(JSON.parse(down.stderr)).toMatchObject({ error: "connection_failed" });
  });

  it("asks for a key when there is none, and falls back to .baton/dev-key", async () => {
    const noKey = await runBaton(["tasks", "list"], { env: { BATON_URL: stack.url }, cwd: work });
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain("no API key");

    const project = mkdtempSync(join(tmpdir(), "baton-project-"));
    mkdirSync(join(project, ".baton"));
    writeFileSync(join(project, ".baton", "dev-key"), `${stack.adminKey}\n`);
    const fromFile = await runBaton(["tasks", "list", "--json"], {
      env: { BATON_URL: stack.url },
      cwd: project,
    });
    expect(fromFile.code).toBe(0);
    expect(JSON.parse(fromFile.stdout).items).toBeInstanceOf(Array);
  });
});
