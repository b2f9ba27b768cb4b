/**
 * The run page follows its run through the event stream: in a real headless Chromium against a
 * local stack, a run that reports progress and logs step by step shows each step on its page
 * from one EventSource, with no GET of the run per change (the page used to poll every 1.5 s).
 */
import { mkdirSync } from "node:fs";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exampleTasks } from "../../examples/index.ts";
import { defineTask, HandlerRegistry } from "../../shared/core/task.ts";
import { type Browser, CHROMIUM_INSTALL_MS, launchBrowser } from "../support/chromium.ts";
import { gates } from "../support/gates.ts";
import { startTestStack, type TestStack, waitFor } from "../support/stack.ts";

const SHOTS = "test-output";
const SOON = { timeout: 15_000 };
const STEPS = 4;

/** Steps the test lets the run take one at a time, so what the page shows never races a timer. */
const gated = gates();
const { gate, release } = gated;

const stepper = defineTask({
  handler: "stepper",
  async run(ctx) {
    for (let step = 1; step <= STEPS; step += 1) {
      await gate(`${ctx.taskId}:${step}`);
      await ctx.progress(step / STEPS);
      await ctx.log(`step ${step} done`);
    }
    return { steps: STEPS };
  },
});

let stack: TestStack;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  [stack, browser] = await Promise.all([
    startTestStack({ registry: new HandlerRegistry([...exampleTasks, stepper]) }),
    launchBrowser(),
  ]);
  mkdirSync(SHOTS, { recursive: true });
  await stack.request("PUT", "/v1/definitions/stepper", { body: { handler: "stepper" } });
  page = await browser.context.newPage();
  page.on("pageerror", (error) => pageErrors.push(`pageerror: ${error.message}`));
}, 600_000);

afterAll(async () => {
  gated.releaseAll();
  await browser?.close();
  await stack?.stop();
}, CHROMIUM_INSTALL_MS);

describe("the run page, live", () => {
  it("shows each progress and log line from the event stream, without polling the run", async () => {
    const taskId = (await stack.request("POST", "/v1/tasks", { body: { definition: "stepper" } })).body
      .taskId as string;
    // Running (and held at its first gate) before the page opens: a claim after the page's first
    // read would send two more events (attempt, status) and reload the run twice, not once.
    await waitFor(async () => {
      const { body } = await stack.request("GET", `/v1/tasks/${taskId}`);
      return body.status === "running" ? body : undefined;
    });
    const requests: string[] = [];
    page.on("request", (request) => {
      const url = new URL(request.url());
      if (url.pathname.startsWith(`/v1/tasks/${taskId}`))
        requests.push(`${request.method()} ${url.pathname}`);
    });
    const count = (what: string) => requests.filter((request) => request === what).length;
    const runGets = () => count(`GET /v1/tasks/${taskId}`);
    const streams = () => count(`GET /v1/tasks/${taskId}/events`);

    await page.goto(`${stack.url}/`);
    await page.getByLabel("API key").fill(stack.adminKey);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("button", { name: "Sign out" }).waitFor();
    await page.goto(`${stack.url}/#/tasks/${taskId}`);

    const progress = page.getByRole("progressbar", { name: "Progress" });
    const logs = page.getByRole("list", { name: "Log lines" });
    await progress.waitFor(SOON);
    const loadsAtStart = runGets();
    expect(loadsAtStart).toBeGreaterThanOrEqual(1);

    for (let step = 1; step < STEPS; step += 1) {
      release(`${taskId}:${step}`);
      await expect.poll(() => progress.getAttribute("value"), SOON).toBe(String((step / STEPS) * 100));
      await expect.poll(() => logs.locator("li").last().textContent(), SOON).toContain(`step ${step} done`);
    }
    await page.screenshot({ path: `${SHOTS}/live-events-running.png`, fullPage: true });
    // Every change arrived on the one stream, applied in place: the run was not read again for them
    // (a status change, such as queued → running, reloads it once).
    expect(streams()).toBe(1);
    expect(count(`POST /v1/tasks/${taskId}/read-token`)).toBe(1);
    expect(runGets()).toBeLessThanOrEqual(loadsAtStart + 1);
    const loadsBeforeEnd = runGets();

    release(`${taskId}:${STEPS}`);
    await expect.poll(() => page.locator(".badge-slot .badge").textContent(), SOON).toContain("succeeded");
    await expect.poll(() => logs.locator("li").count(), SOON).toBe(STEPS);
    expect(await progress.getAttribute("value")).toBe("100");
    // The end reloads the run once (its output, timings), then nothing more is asked.
    const loadsAtEnd = runGets();
    expect(loadsAtEnd).toBeLessThanOrEqual(loadsBeforeEnd + 1);
    await page.waitForTimeout(2_000);
    expect(runGets()).toBe(loadsAtEnd);
    expect(streams()).toBe(1);
    expect(pageErrors).toEqual([]);
  });
});
