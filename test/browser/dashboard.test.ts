/**
 * The dashboard in a real headless Chromium against a local stack: sign in, start `sleep` through
 * the form, watch it finish live, read its page, cancel a long run, download a file, see sealed
 * params masked, use the admin views, and sign out. Screenshots go to test-output/.
 */
import { mkdirSync, readFileSync } from "node:fs";
import type { Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DASHBOARD_CSP } from "../../functions/api/dashboard.ts";
import { type Browser, CHROMIUM_INSTALL_MS, launchBrowser } from "../support/chromium.ts";
import { startTestStack, type TestStack, waitFor, waitForEnd } from "../support/stack.ts";

const SHOTS = "test-output";
/**
 * The screenshots docs/dashboard.md shows: refreshed in docs/images by `npm run docs:images`
 * (BATON_DOC_IMAGES=1); any other run writes them to test-output/ so `npm test` leaves the
 * working tree as it found it.
 */
const DOC_SHOTS = process.env.BATON_DOC_IMAGES === "1" ? "docs/images" : `${SHOTS}/docs-images`;
/** A phone's width: the list and the run page must fit it without the page scrolling sideways. */
const PHONE = { width: 390, height: 844 };
/** What the page shows within a couple of polls (1.5 s each), with room for a busy machine. */
const SOON = { timeout: 15_000 };

let stack: TestStack;
let browser: Browser;
let page: Page;
/** Everything the page logged as an error or threw: a clean run has none. */
const pageErrors: string[] = [];

beforeAll(async () => {
  [stack, browser] = await Promise.all([startTestStack(), launchBrowser()]);
  mkdirSync(SHOTS, { recursive: true });
  mkdirSync(DOC_SHOTS, { recursive: true });
  await stack.request("PUT", "/v1/definitions/sleep", {
    body: { handler: "sleep", params: { ms: 2500, steps: 5 }, description: "Sleeps, reporting progress" },
  });
  await stack.request("PUT", "/v1/definitions/write-file", { body: { handler: "write-file" } });
  await stack.request("PUT", "/v1/definitions/echo", { body: { handler: "echo" } });
  // Fails its first attempt (after its starts, here none), succeeds on the second.
  await stack.request("PUT", "/v1/definitions/flaky", { body: { handler: "starter", maxAttempts: 2 } });
  // The chained task must not echo its params: its output would show what the API masks.
  await stack.request("PUT", "/v1/chains/receive", { body: { definition: "sleep" } });
  page = await browser.context.newPage();
  page.on("pageerror", (error) => pageErrors.push(`pageerror: ${error.message}`));
  page.on("console", (message) => {
    // A 4xx the page asked for on purpose shows as a failed resource; everything else is a bug.
    if (message.type() === "error" && !message.text().includes("Failed to load resource"))
      pageErrors.push(`console: ${message.text()}`);
  });
}, 600_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
}, CHROMIUM_INSTALL_MS);

async function signIn(key: string) {
  await page.getByLabel("API key").fill(key);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("button", { name: "Sign out" }).waitFor();
}

/**
 * Opens a fresh start form and returns it. One navigation at a time, each waited for: a hash
 * link's view renders on a later `hashchange`, and the task list has a "Definition" select too,
 * so acting right after a click (on a loaded machine) can pick the old view's field.
 */
async function openStartForm(): Promise<Locator> {
  if (new URL(page.url()).hash.startsWith("#/start")) {
    await page.getByRole("link", { name: "Tasks", exact: true }).click();
    await page.getByRole("heading", { name: "Tasks", level: 1 }).waitFor();
  }
  await page.getByRole("link", { name: "Start a task" }).first().click();
  await page.getByRole("heading", { name: "Start a task", level: 1 }).waitFor();
  return page.locator("form.start");
}

/** Starts a definition through the form, with params typed as JSON; returns the new task's id. */
async function startThroughForm(definition: string, params?: string): Promise<string> {
  const form = await openStartForm();
  await form.getByLabel("Definition").selectOption(definition);
  if (params !== undefined) await form.getByLabel("Params").fill(params);
  await form.getByRole("button", { name: "Start task" }).click();
  const link = page.locator(".flash a");
  await link.waitFor();
  return (await link.textContent()) ?? "";
}

describe("the dashboard", () => {
  it("is served at / with a strict CSP and cacheable, versioned assets", async () => {
    const response = await fetch(`${stack.url}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(response.headers.get("content-security-policy")).toBe(DASHBOARD_CSP);
    expect(DASHBOARD_CSP).toContain("script-src 'self'");
    expect(DASHBOARD_CSP).not.toContain("unsafe-inline");
    const html = await response.text();
    const script = /src="(dashboard\/[0-9a-f]{12}\/app\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(`${stack.url}/${script}`);
    expect(asset.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(asset.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(await asset.text()).toBe(
      readFileSync(new URL("../../functions/api/dashboard/app.js", import.meta.url), "utf8"),
    );
    const missing = await fetch(`${stack.url}/dashboard/x/secrets.txt`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: string }).error).toBe("not_found");
  });

  it("refuses an unknown key and signs in with a tenant key", async () => {
    await page.goto(`${stack.url}/`);
    await page.getByLabel("API key").fill("not-a-real-key-000000000000000");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.getByRole("alert").textContent(), SOON).toContain("not accepted");
    await signIn(stack.adminKey);
    expect(await page.locator("#who-text").textContent()).toBe("acme · admin");
    expect(await page.evaluate(() => sessionStorage.getItem("baton.key"))).toBe(stack.adminKey);
    expect(await page.evaluate(() => localStorage.length)).toBe(0);
  });

  it("starts sleep through the form and shows its progress live until 100 %", async () => {
    const form = await openStartForm();
    await form.getByLabel("Definition").selectOption("sleep");
    // Prefilled with the definition's default params.
    expect(JSON.parse(await form.getByLabel("Params").inputValue())).toEqual({ ms: 2500, steps: 5 });
    await form.getByRole("button", { name: "Start task" }).click();
    const link = page.locator(".flash a");
    await link.waitFor();
    const taskId = (await link.textContent()) ?? "";
    const row = page.locator(`tr[data-task-id="${taskId}"]`);
    await row.waitFor();
    // Live updates change the row in place: the same element from first sight to the end.
    const rowElement = await row.elementHandle();
    const bar = row.getByRole("progressbar");
    // The list polls: the bar moves through intermediate values without a reload.
    const seen = new Set<string>();
    await expect
      .poll(
        async () => {
          seen.add((await bar.getAttribute("value")) ?? "none");
          return await row.locator(".badge").textContent();
        },
        { timeout: 30_000, interval: 200 },
      )
      .toBe("succeeded");
    expect(await bar.getAttribute("value")).toBe("100");
    expect(await rowElement?.evaluate((element) => element.isConnected)).toBe(true);
    expect(await row.locator('td[data-cell="progress"]').textContent()).toContain("100 %");
    expect(await row.locator('td[data-cell="feedback"]').textContent()).toBe("step 5/5");
    expect([...seen].some((value) => value !== "100" && value !== "none")).toBe(true);
    await page.screenshot({ path: `${SHOTS}/dashboard.png`, fullPage: true });

    await row.getByRole("link", { name: "sleep" }).click();
    await page.getByRole("heading", { name: "Output" }).waitFor();
    expect(
      JSON.parse((await page.locator("section", { hasText: "Output" }).locator("pre").textContent()) ?? ""),
    ).toEqual({
      slept: 2500,
    });
    expect(await page.locator("pre.feedback").textContent()).toBe(
      "step 1/5\nstep 2/5\nstep 3/5\nstep 4/5\nstep 5/5",
    );
    expect(await page.getByRole("button", { name: "Cancel task…" }).isHidden()).toBe(true);
    await page.screenshot({ path: `${SHOTS}/task.png`, fullPage: true });
    await page.emulateMedia({ colorScheme: "dark" });
    await page.screenshot({ path: `${SHOTS}/task-dark.png`, fullPage: true });
    await page.emulateMedia({ colorScheme: "light" });
  });

  it("keeps the filters in the URL hash and lists only what matches", async () => {
    // A succeeded run of another definition, so that the definition filter has something to leave out.
    await stack.request("PUT", "/v1/definitions/other", { body: { handler: "echo" } });
    const other = await stack.request("POST", "/v1/tasks", { body: { definition: "other" } });
    expect((await waitForEnd(stack, other.body.taskId)).status).toBe("succeeded");
    await page.getByRole("link", { name: "Tasks", exact: true }).click();
    await page.getByLabel("Status").selectOption("running");
    await expect.poll(() => new URL(page.url()).hash, SOON).toBe("#/tasks?status=running");
    await page.locator(".empty").waitFor({ state: "visible" });
    await page.getByLabel("Status").selectOption("succeeded");
    await page.getByLabel("Definition").selectOption("sleep");
    await expect.poll(() => new URL(page.url()).hash, SOON).toBe("#/tasks?status=succeeded&definition=sleep");
    await page.reload();
    expect(await page.getByLabel("Status").inputValue()).toBe("succeeded");
    await expect.poll(() => page.getByLabel("Definition").inputValue(), SOON).toBe("sleep");
    await expect.poll(() => page.locator("tbody tr").count(), SOON).toBe(1);
    expect(await page.locator("tbody").textContent()).not.toContain(other.body.taskId);
  });

  it("cancels a long run with the cancel button, after confirming", async () => {
    const taskId = await startThroughForm("sleep", '{"ms": 600000, "steps": 600}');
    await page.locator(".flash a").click();
    await expect.poll(() => page.locator(".badge-slot").textContent(), { timeout: 20_000 }).toBe("running");
    const summary = await page.locator("section", { hasText: "Summary" }).elementHandle();
    await page.getByRole("button", { name: "Cancel task…" }).click();
    const dialog = page.getByRole("dialog", { name: "Cancel this task?" });
    // Keeping it closes the dialog and sends nothing.
    const cancels: string[] = [];
    const seeCancel = (request: { method(): string; url(): string }) => {
      if (request.method() === "POST" && request.url().endsWith("/cancel")) cancels.push(request.url());
    };
    page.on("request", seeCancel);
    await dialog.getByRole("button", { name: "Keep it running" }).click();
    await dialog.waitFor({ state: "hidden" });
    await page.waitForTimeout(2_000); // longer than a refresh
    page.off("request", seeCancel);
    expect(cancels).toEqual([]);
    expect((await stack.request("GET", `/v1/tasks/${taskId}`)).body.cancelRequestedAt).toBeNull();
    expect(await page.locator(".badge-slot").textContent()).toBe("running");
    await page.getByRole("button", { name: "Cancel task…" }).click();
    await dialog.getByRole("button", { name: "Cancel task" }).click();
    await expect.poll(() => page.locator(".badge-slot").textContent(), { timeout: 30_000 }).toBe("cancelled");
    expect(await page.getByRole("button", { name: "Cancel task…" }).isHidden()).toBe(true);
    expect((await stack.request("GET", `/v1/tasks/${taskId}`)).body.status).toBe("cancelled");
    // Refreshes re-fill what changed inside a section; the sections themselves stay.
    expect(await summary?.evaluate((element) => element.isConnected)).toBe(true);
    // Screen readers hear the change without the focus moving.
    await expect.poll(() => page.locator("#announcer").textContent(), SOON).toBe("Task is now cancelled");
  });

  it("shows the API's {error, message} when a start is refused", async () => {
    const form = await openStartForm();
    await form.getByLabel("Definition").selectOption("sleep");
    await form.getByLabel("Params").fill("{not json");
    await form.getByRole("button", { name: "Start task" }).click();
    expect(await page.locator("#start-params-error").textContent()).toContain("not valid JSON");
    expect(await form.getByLabel("Params").getAttribute("aria-invalid")).toBe("true");
    await form.getByLabel("Params").fill('{"ms": 10}');
    await form.getByLabel("Queue").fill("no spaces allowed");
    await form.getByRole("button", { name: "Start task" }).click();
    const alert = page.getByRole("alert");
    await alert.waitFor();
    expect(await alert.textContent()).toContain("validation_failed");
    expect(await alert.textContent()).toContain('request body is invalid at "queue"');
    await page.screenshot({ path: `${SHOTS}/start.png`, fullPage: true });
  });

  it("downloads a task's file through a presigned link", async () => {
    const taskId = await startThroughForm("write-file", '{"name": "report.txt", "text": "one\\ntwo\\n"}');
    await waitForEnd(stack, taskId);
    await page.locator(".flash a").click();
    const button = page.getByRole("button", { name: "Download report.txt" });
    await button.waitFor();
    const [opened] = await Promise.all([browser.context.waitForEvent("page"), button.click()]);
    await opened.waitForLoadState();
    // A presigned link to the object itself, not an API URL that needs the key.
    const link = new URL(opened.url());
    expect(link.pathname).toBe(`/${stack.prefix}files/acme/${taskId}/report.txt`);
    expect(link.searchParams.get("X-Amz-Signature")).toMatch(/^[0-9a-f]{64}$/);
    expect(link.searchParams.get("response-content-disposition")).toBe('attachment; filename="report.txt"');
    expect(await opened.locator("body").textContent()).toBe("one\ntwo\n");
    await opened.close();
  });

  it("masks encrypted params and links chain outcomes to the task they started", async () => {
    const source = await stack.request("POST", "/v1/tasks", {
      body: {
        definition: "echo",
        params: { name: "Ada" },
        chain: {
          name: "receive",
          params: [{ name: "password", value: "hunter2", encrypt: true }],
        },
      },
    });
    await waitForEnd(stack, source.body.taskId);
    // Chains are emitted as the run ends; the outcome is recorded just after.
    const childId: string = await waitFor(async () => {
      const { body } = await stack.request("GET", `/v1/tasks/${source.body.taskId}`);
      return body.chainOutcomes[0]?.childTaskId;
    });
    await waitForEnd(stack, childId);
    await page.goto(`${stack.url}/#/tasks/${source.body.taskId}`);
    await page.getByRole("heading", { name: "Chain outcomes" }).waitFor();
    const outcomes = page.locator("section", { has: page.getByRole("heading", { name: "Chain outcomes" }) });
    await outcomes.getByRole("link", { name: childId }).click();
    const params = page.locator("section", { has: page.getByRole("heading", { name: "Params" }) });
    await expect.poll(() => params.textContent(), SOON).toContain("encrypted");
    expect(await page.locator("main").textContent()).not.toContain("hunter2");
    // And back: the chained child names its source, linked, and the source lists it among the runs it started.
    const summary = page.locator("section", { has: page.getByRole("heading", { name: "Summary" }) });
    await expect.poll(() => summary.textContent(), SOON).toContain("chain:receive");
    await summary.getByRole("definition").filter({ hasText: "chain:receive" }).getByRole("link").click();
    await expect.poll(() => new URL(page.url()).hash, SOON).toBe(`#/tasks/${source.body.taskId}`);
    const started = page.locator("section", { has: page.getByRole("heading", { name: "Runs it started" }) });
    await expect.poll(() => started.textContent(), SOON).toContain(childId);
    expect(
      await started
        .getByRole("row", { name: /chain:receive/ })
        .getByRole("link")
        .textContent(),
    ).toBe(childId);
  });

  it("hands out a file link as JSON only to the task's tenant, and only for a file that exists", async () => {
    const started = await stack.request("POST", "/v1/tasks", {
      body: { definition: "write-file", params: { name: "a.txt", text: "a" } },
    });
    const taskId = started.body.taskId as string;
    await waitForEnd(stack, taskId);
    const link = await stack.request("GET", `/v1/tasks/${taskId}/files/a.txt/link`, { key: stack.runnerKey });
    expect(link.status).toBe(200);
    expect(await (await fetch(link.body.url)).text()).toBe("a");
    expect((await stack.request("GET", `/v1/tasks/${taskId}/files/b.txt/link`)).status).toBe(404);
    expect((await stack.request("GET", `/v1/tasks/${taskId}/files/a.txt/link`, { key: null })).status).toBe(
      401,
    );
    await stack.request("POST", "/v1/tenants", { key: stack.rootKey, body: { id: "globex" } });
    const globex = await stack.request("POST", "/v1/tenants/globex/keys", {
      key: stack.rootKey,
      body: { role: "admin" },
    });
    const foreign = await stack.request("GET", `/v1/tasks/${taskId}/files/a.txt/link`, {
      key: globex.body.key,
    });
    expect(foreign.status).toBe(404);
  });

  it("shows a workflow's steps with their status, linked to their tasks", async () => {
    await stack.request("PUT", "/v1/definitions/pair", {
      body: {
        kind: "workflow",
        steps: [
          { id: "first", definition: "write-file" },
          { id: "second", definition: "write-file", dependsOn: ["first"] },
        ],
      },
    });
    const workflow = await stack.request("POST", "/v1/tasks", { body: { definition: "pair" } });
    const workflowId: string = workflow.body.taskId;
    await waitForEnd(stack, workflowId);
    await page.goto(`${stack.url}/#/tasks/${workflowId}`);
    const steps = page.locator("section", { has: page.getByRole("heading", { name: "Workflow steps" }) });
    await steps.waitFor();
    const second = steps.getByRole("row", { name: /second/ });
    expect(await second.locator(".badge").textContent()).toBe("succeeded");
    expect(await second.getByRole("link").getAttribute("href")).toMatch(/^#\/tasks\/.+/);
    expect(await steps.getByRole("row", { name: /second/ }).textContent()).toContain("first");

    // Its steps on the workflow's own time axis, each linked to its run, the second after the first.
    const timeline = page.locator('section[data-section="timeline"]');
    const stepRows = timeline.locator('li[data-kind^="step-"]');
    await expect.poll(() => stepRows.count(), SOON).toBe(2);
    expect(await stepRows.nth(0).textContent()).toMatch(/^Step first · .+ · succeeded/);
    expect(await stepRows.nth(1).textContent()).toMatch(/^Step second · .+ · succeeded/);
    const lefts = await stepRows
      .locator(".tl-bar")
      .evaluateAll((bars) =>
        bars.map((bar) => Number.parseFloat((bar as unknown as { style: { left: string } }).style.left)),
      );
    expect(lefts[1]).toBeGreaterThan(lefts[0] ?? 100);
    expect(await stepRows.nth(1).getByRole("link").getAttribute("href")).toMatch(/^#\/tasks\/.+/);
    expect(await timeline.locator('li[data-kind="end-succeeded"]').count()).toBe(1);
    await timeline.screenshot({ path: `${DOC_SHOTS}/dashboard-workflow.png` });

    // Both ways: the workflow lists the runs it started, and a step names the run that started it.
    const started = page.locator("section", { has: page.getByRole("heading", { name: "Runs it started" }) });
    await expect.poll(() => started.getByRole("row").count(), SOON).toBe(3);
    expect(await started.textContent()).toContain("step:second");
    await started
      .getByRole("row", { name: /step:first/ })
      .getByRole("link")
      .click();
    const summary = page.locator("section", { has: page.getByRole("heading", { name: "Summary" }) });
    await expect.poll(() => summary.textContent(), SOON).toContain("step:first");
    await summary.getByRole("definition").filter({ hasText: "step:first" }).getByRole("link").click();
    await page.getByRole("heading", { name: "Runs it started" }).waitFor();
  });

  it("shows each attempt with its duration, error and stack trace, on the run's timeline", async () => {
    const started = await stack.request("POST", "/v1/tasks", {
      body: { definition: "flaky", params: { failFirst: true } },
    });
    const taskId: string = started.body.taskId;
    expect((await waitForEnd(stack, taskId)).status).toBe("succeeded");
    await page.goto(`${stack.url}/#/tasks/${taskId}`);
    const attempts = page.locator('section[data-section="attempts"] li.attempt');
    await expect.poll(() => attempts.count(), SOON).toBe(2);
    const first = attempts.nth(0);
    expect(await first.getAttribute("data-outcome")).toBe("failed");
    expect(await first.textContent()).toContain("handler_error");
    expect(await first.textContent()).toContain("Error: first attempt fails after its starts");
    expect(await attempts.nth(1).getAttribute("data-outcome")).toBe("succeeded");
    expect(await attempts.nth(1).locator("details").count()).toBe(0);
    // The stack trace is behind a disclosure, and it is the handler's own.
    const trace = first.locator("details.stack pre");
    expect(await trace.isVisible()).toBe(false);
    await first.getByText("Stack trace").click();
    expect(await trace.isVisible()).toBe(true);
    expect(await trace.textContent()).toMatch(
      /^Error: first attempt fails after its starts\n\s+at .*test-tasks/,
    );

    // Queued, both attempts and the end on one axis, in that order.
    const timeline = page.locator('section[data-section="timeline"]');
    const kinds = await timeline
      .locator("li.tl-row")
      .evaluateAll((rows) => rows.map((row) => row.getAttribute("data-kind")));
    expect(kinds).toEqual(["queued", "attempt-failed", "attempt-succeeded", "end-succeeded"]);
    expect(await timeline.locator('li[data-kind="attempt-failed"]').textContent()).toMatch(
      /^Attempt 1 · [\d.]+ m?s · failed · handler_error/,
    );
    await page.screenshot({ path: `${DOC_SHOTS}/dashboard-task.png`, fullPage: true });
  });

  it("replays a run after confirming, and links the replay and its original both ways", async () => {
    const original = await stack.request("POST", "/v1/tasks", {
      body: { definition: "echo", params: { n: 1 } },
    });
    const originalId: string = original.body.taskId;
    await waitForEnd(stack, originalId);
    await page.goto(`${stack.url}/#/tasks/${originalId}`);
    const replayButton = page.getByRole("button", { name: "Replay…" });
    await replayButton.waitFor();
    const dialog = page.getByRole("dialog", { name: "Replay this task?" });
    const replays: string[] = [];
    const seeReplay = (request: { method(): string; url(): string }) => {
      if (request.method() === "POST" && request.url().endsWith("/replay")) replays.push(request.url());
    };
    page.on("request", seeReplay);
    await replayButton.click();
    await dialog.getByRole("button", { name: "Don't replay" }).click();
    await dialog.waitFor({ state: "hidden" });
    expect(replays).toEqual([]);
    await replayButton.click();
    await dialog.getByRole("button", { name: "Replay task" }).click();
    await expect.poll(() => new URL(page.url()).hash, SOON).not.toBe(`#/tasks/${originalId}`);
    page.off("request", seeReplay);
    expect(replays).toHaveLength(1);
    const replayId = decodeURIComponent(new URL(page.url()).hash.replace("#/tasks/", ""));
    const replay = await waitForEnd(stack, replayId);
    expect(replay.replayOf).toBe(originalId);
    // The replay names its original, linked; the original lists its replay.
    const summary = page.locator("section", { has: page.getByRole("heading", { name: "Summary" }) });
    await expect.poll(() => summary.textContent(), SOON).toContain("Replay of");
    await summary.getByRole("link", { name: originalId }).click();
    const started = page.locator("section", { has: page.getByRole("heading", { name: "Runs it started" }) });
    await expect.poll(() => started.textContent(), SOON).toContain(replayId);
    expect(
      await started
        .getByRole("row", { name: /replay/ })
        .getByRole("link")
        .textContent(),
    ).toBe(replayId);
  });

  it("counts the last 24 hours by status and by definition above the list", async () => {
    // The API's counts first: the list reads its own once a minute, from when it opens (so not before these).
    const api = (await stack.request("GET", "/v1/tasks/counts")).body;
    expect(api.byStatus.succeeded).toBeGreaterThan(5);
    await page.getByRole("link", { name: "Tasks", exact: true }).click();
    const counts = page.locator("section.counts");
    await counts.locator(".count-chips").waitFor();
    const shown = async (status: string) =>
      Number(await counts.locator(`li[data-status="${status}"] .count-number`).textContent());
    await expect.poll(() => shown("succeeded"), SOON).toBeGreaterThanOrEqual(api.byStatus.succeeded);
    expect(await shown("cancelled")).toBeGreaterThanOrEqual(1);
    const flaky = counts.locator('li[data-definition="flaky"]');
    expect(await flaky.textContent()).toContain("1 succeeded");
    // Every status is counted on its own (no "active" lumping the unfinished ones), each a link.
    expect(await counts.locator("li[data-status]").count()).toBe(9);
    expect(await counts.locator('li[data-status="active"]').count()).toBe(0);
    expect(await counts.locator('li[data-status="queued"] a').getAttribute("href")).toBe(
      "#/tasks?status=queued",
    );
    // A status count is a link to the list filtered by it.
    await counts.locator('li[data-status="cancelled"] a').click();
    await expect.poll(() => new URL(page.url()).hash, SOON).toBe("#/tasks?status=cancelled");
    await expect.poll(() => page.locator("tbody tr").count(), SOON).toBeGreaterThanOrEqual(1);
    await page.getByRole("link", { name: "Tasks", exact: true }).click();
    await page.locator("tbody tr").first().waitFor();
    await page.screenshot({ path: `${DOC_SHOTS}/dashboard.png`, fullPage: true });
  });

  it("fits a 390 px wide phone: the list as cards, the run page without sideways scrolling", async () => {
    const wide = page.viewportSize();
    await page.setViewportSize(PHONE);
    try {
      await page.getByRole("link", { name: "Tasks", exact: true }).click();
      const row = page.locator("tbody tr").first();
      await row.waitFor();
      await page.locator("section.counts .count-chips").waitFor();
      const scrollWidth = () => page.evaluate<number>("document.scrollingElement.scrollWidth");
      expect(await scrollWidth()).toBeLessThanOrEqual(PHONE.width);
      // Cards: one cell under the other, each saying what it is.
      expect(
        await row.evaluate(
          (element) =>
            (globalThis as unknown as { getComputedStyle(e: unknown): { display: string } }).getComputedStyle(
              element,
            ).display,
        ),
      ).toBe("block");
      // The column heads are there for screen readers only.
      expect((await page.locator("table.tasks thead").boundingBox())?.width ?? 0).toBeLessThanOrEqual(1);
      await page.screenshot({ path: `${DOC_SHOTS}/dashboard-mobile.png`, fullPage: true });

      const flaky = await stack.request("GET", "/v1/tasks?definition=flaky");
      const flakyId: string | undefined = flaky.body?.items?.[0]?.taskId;
      await page.goto(`${stack.url}/#/tasks/${flakyId ?? ""}`);
      await page.locator('section[data-section="attempts"] li.attempt').first().waitFor();
      await page.locator("details.stack summary").first().click();
      expect(await scrollWidth()).toBeLessThanOrEqual(PHONE.width);
      await page.screenshot({ path: `${DOC_SHOTS}/dashboard-mobile-task.png`, fullPage: true });
    } finally {
      if (wide !== null) await page.setViewportSize(wide);
    }
  });

  it("lists definitions, chains and grants for admins, and tells a runner politely", async () => {
    await page.getByRole("link", { name: "Admin" }).click();
    await page.getByRole("rowheader", { name: /sleep/ }).waitFor();
    await page.screenshot({ path: `${SHOTS}/admin.png`, fullPage: true });
    await page.getByRole("link", { name: "Chains" }).click();
    await page.getByRole("rowheader", { name: "receive" }).waitFor();
    await page.getByRole("link", { name: "Access grants" }).click();
    await page.getByText("No access grants yet.").waitFor();

    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("API key").waitFor();
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    await signIn(stack.runnerKey);
    await page.goto(`${stack.url}/#/admin/chains`);
    const notice = page.locator(".notice");
    await notice.waitFor();
    expect(await notice.textContent()).toContain(
      "Chains are for admins. You are signed in with a runner key.",
    );
    expect(await page.getByRole("alert").count()).toBe(0);
  });

  it("pages with load more, and keeps the loaded rows live", async () => {
    const started = await Promise.all(
      Array.from({ length: 30 }, () => stack.request("POST", "/v1/tasks", { body: { definition: "echo" } })),
    );
    const ids = started.map((answer) => answer.body.taskId as string);
    await page.goto(`${stack.url}/#/tasks?definition=echo`);
    const rows = page.locator("tbody tr");
    await expect.poll(() => rows.count(), SOON).toBe(25);
    await page.getByRole("button", { name: "Load more" }).click();
    // 30 started here, one chained source and a replayed run and its replay earlier: every echo run, and no button left.
    await expect.poll(() => rows.count(), SOON).toBe(33);
    await page.getByRole("button", { name: "Load more" }).waitFor({ state: "hidden" });
    const oldest = ids.toSorted()[0] ?? "";
    await expect
      .poll(() => page.locator(`tr[data-task-id="${oldest}"] .badge`).textContent(), { timeout: 20_000 })
      .toBe("succeeded");
    // Later polls keep all 33 rows rather than falling back to the first page.
    await new Promise((resolve) => setTimeout(resolve, 3_500));
    expect(await rows.count()).toBe(33);
  });

  it("signs out, saying why, when the key is revoked mid-session", async () => {
    const issued = await stack.request("POST", "/v1/keys", { body: { role: "runner" } });
    await page.getByRole("button", { name: "Sign out" }).click();
    await signIn(issued.body.key);
    await page.getByRole("link", { name: "Tasks", exact: true }).click();
    expect((await stack.request("DELETE", `/v1/keys/${issued.body.keyId}`)).status).toBe(204);
    // The next poll is refused: the key is forgotten and the sign-in form explains.
    await page.getByLabel("API key").waitFor();
    expect(await page.getByRole("alert").textContent()).toContain("no longer accepted");
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
  });

  it("tells the operator (root key) that tasks belong to tenants", async () => {
    await signIn(stack.rootKey);
    expect(await page.locator("#who-text").textContent()).toBe("operator (root key)");
    expect(await page.locator(".notice").textContent()).toContain("Sign out and sign in with a tenant key");
  });

  it("ran without a script error or a CSP violation", async () => {
    // Closing the pages delivers any error or console event still on its way.
    for (const open of browser.context.pages()) await open.close();
    expect(pageErrors).toEqual([]);
  });
});
