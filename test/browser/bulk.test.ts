/**
 * The task list's bulk action in a real headless Chromium: count what the list's filters match,
 * back out, then confirm and see the result, with the runs cancelled behind it. A screenshot of
 * the confirmation goes to test-output/.
 */
import { mkdirSync } from "node:fs";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Browser, CHROMIUM_INSTALL_MS, launchBrowser } from "../support/chromium.ts";
import { startTask, startTestStack, type TestStack } from "../support/stack.ts";

const SHOTS = "test-output";
const SOON = { timeout: 20_000 };

let stack: TestStack;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  [stack, browser] = await Promise.all([startTestStack({ bulkPageSize: 2 }), launchBrowser()]);
  mkdirSync(SHOTS, { recursive: true });
  for (const name of ["later", "bystander"]) {
    await stack.request("PUT", `/v1/definitions/${name}`, { body: { handler: "echo" } });
  }
  page = await browser.context.newPage();
  page.on("pageerror", (error) => pageErrors.push(`pageerror: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error" && !message.text().includes("Failed to load resource"))
      pageErrors.push(`console: ${message.text()}`);
  });
}, 600_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
}, CHROMIUM_INSTALL_MS);

describe("the task list's bulk action", () => {
  it("shows the dry run's count for confirmation, does nothing when kept, and cancels on confirm", async () => {
    const hour = 3_600_000;
    const later = await Promise.all(
      [1, 2, 3, 4, 5].map(() => startTask(stack, { definition: "later", after: hour })),
    );
    const bystander = await startTask(stack, { definition: "bystander", after: hour });

    await page.goto(`${stack.url}/`);
    await page.getByLabel("API key").fill(stack.adminKey);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("button", { name: "Sign out" }).waitFor();
    await page.goto(`${stack.url}/#/tasks?definition=later`);
    await page.locator("tr[data-task-id]").first().waitFor(SOON);

    await page.getByText("Bulk action", { exact: true }).click();
    await page.getByLabel("Action", { exact: true }).selectOption("cancel");
    await page.getByRole("button", { name: "Count matching tasks" }).click();
    // Five runs over pages of two: the count is the whole dry run's, not its first page's.
    const confirm = page.getByRole("button", { name: "Cancel 5 tasks" });
    await confirm.waitFor(SOON);
    await page.getByText("Cancel 5 tasks with definition later?").waitFor(SOON);
    await page.screenshot({ path: `${SHOTS}/bulk-confirm.png`, fullPage: true });

    await page.getByRole("button", { name: "Keep them" }).click();
    for (const id of later)
      expect((await stack.request("GET", `/v1/tasks/${id}`)).body.status).toBe("scheduled");

    await page.getByRole("button", { name: "Count matching tasks" }).click();
    await confirm.waitFor(SOON);
    await confirm.click();
    await page.locator("#main").getByText("Cancelled 5 of 5 matching tasks.").waitFor(SOON);
    for (const id of later)
      expect((await stack.request("GET", `/v1/tasks/${id}`)).body.status).toBe("cancelled");
    expect((await stack.request("GET", `/v1/tasks/${bystander}`)).body.status).toBe("scheduled");
    expect(pageErrors).toEqual([]);
  });
});
