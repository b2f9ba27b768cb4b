/**
 * The README's and docs/'s shell walkthroughs, run top to bottom as written against
 * `baton dev --examples` (what this repo's `npm run dev` starts). Every ```sh block runs, in order
 * (README.md, then docs/*.md by name), in one bash session, unless the line before it is `<!-- readme-test: skip (why) -->` (blocks that install,
 * run the whole suite or need AWS). Each `curl` fails the script on an HTTP error, so a step that
 * uses something not yet registered, or an undefined variable, is caught.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type DevProcess, type DevStarted, startDev } from "./dev-process.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const SKIP = /^<!-- readme-test: skip \(.+\) -->$/;

/** The README's sh blocks in order, without the skipped ones. */
function runnableShellBlocks(markdown: string): string[] {
  const lines = markdown.split("\n");
  const blocks: string[] = [];
  for (let at = 0; at < lines.length; at += 1) {
    if (lines[at] !== "```sh") continue;
    const end = lines.indexOf("```", at + 1);
    if (!SKIP.test(lines[at - 1] ?? "")) blocks.push(lines.slice(at + 1, end).join("\n"));
    at = end;
  }
  return blocks;
}

/** README.md first (it sets BATON_URL and BATON_KEY up), then every doc. */
function walkthroughs(): Array<{ file: string; markdown: string }> {
  const docs = readdirSync(join(ROOT, "docs"))
    .filter((name) => name.endsWith(".md"))
    .sort()
    .map((name) => join("docs", name));
  return ["README.md", ...docs].map((file) => ({ file, markdown: readFileSync(join(ROOT, file), "utf8") }));
}

let dev: DevProcess;
let started: DevStarted;

beforeAll(async () => {
  execFileSync(process.execPath, ["scripts/build.mjs", "--no-types"], { cwd: ROOT });
  dev = startDev(["--examples", "--data-dir", mkdtempSync(join(tmpdir(), "baton-readme-"))]);
  started = await dev.started;
}, 120_000);

afterAll(async () => {
  if (dev?.child.exitCode === null) {
    dev.child.kill("SIGTERM");
    await dev.exited;
  }
});

it("finds the walkthroughs and skips only marked blocks", () => {
  for (const { file, markdown } of walkthroughs()) {
    const all = markdown.split("\n").filter((line) => line === "```sh").length;
    const skipped = markdown.split("\n").filter((line) => SKIP.test(line)).length;
    expect(runnableShellBlocks(markdown), file).toHaveLength(all - skipped);
  }
  expect(runnableShellBlocks(readFileSync(join(ROOT, "README.md"), "utf8")).length).toBeGreaterThanOrEqual(6);
});

it("runs every README and docs shell walkthrough top to bottom against a local stack", async () => {
  const curlFailures = join(mkdtempSync(join(tmpdir(), "baton-curl-")), "failures");
  writeFileSync(curlFailures, "");
  const blocks = walkthroughs().flatMap(({ file, markdown }) =>
    runnableShellBlocks(markdown).map((block) => `# ${file}\n${block}`),
  );
  const script = [
    // A reader's shell has no pipefail: a loop like `until X=$(curl … | grep … | cut …)` must work
    // without it (with it, one that never waits for a non-empty X passed here and failed there).
    "set -eu",
    // An HTTP error fails the step (the body is still printed), and is noted even inside a pipeline,
    // where without pipefail it would not stop the script: nothing a reader would miss passes.
    'curl() { command curl --fail-with-body "$@" || { echo "curl $*" >> "$CURL_FAILURES"; return 22; }; }',
    ...blocks.map((block, index) => `echo "::: block ${index + 1}"\n${block}`),
  ].join("\n");
  // A reader who set PORT and BATON_DATA_DIR for their stack, in an empty folder.
  const env = {
    PATH: process.env.PATH ?? "",
    HOME: process.env.HOME ?? "",
    PORT: new URL(started.url).port,
    BATON_DATA_DIR: started.dataDir,
    CURL_FAILURES: curlFailures,
  };
  const result = await new Promise<{ code: number | null; output: string }>((resolve) => {
    const bash = spawn("bash", ["-c", script], { env, cwd: mkdtempSync(join(tmpdir(), "baton-reader-")) });
    let output = "";
    bash.stdout.on("data", (chunk) => {
      output += String(chunk);
    });
    bash.stderr.on("data", (chunk) => {
      output += String(chunk);
    });
    bash.on("close", (code) => resolve({ code, output }));
  });
  expect(result.output).toContain(`::: block ${blocks.length}`);
  expect(result.code, result.output).toBe(0);
  expect(readFileSync(curlFailures, "utf8"), result.output).toBe("");
  // The cross-tenant walkthrough's last step: the file handed to prod came through.
  expect(result.output).toContain("Q3 numbers");
}, 240_000);
