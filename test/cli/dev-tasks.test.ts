/**
 * `baton dev --tasks <module>`: the user's handlers (and only those) from TypeScript source with
 * no build, reloaded on an edit with the data kept; one `baton dev` per data folder.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOCK_FILE } from "../../local/dev-lock.ts";
import { type DevProcess, type DevStarted, isLive, startDev } from "./dev-process.ts";
import { runBaton } from "./run-cli.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const SDK = pathToFileURL(join(ROOT, "shared", "core", "task.ts")).href;

let dev: DevProcess;
let started: DevStarted;
let project: string;
let dataDir: string;
let stalePid: number;
let env: Record<string, string>;

/** The project's handler module imports a helper, as real handlers do: editing either reloads. */
const TASKS_SOURCE = `import { defineTask } from ${JSON.stringify(SDK)};
import { greeting } from "../greeting.ts";

const greet = defineTask<{ who: string }>({
  handler: "greet",
  async run(_ctx, params) {
    return { text: \`\${greeting} \${params.who}\` };
  },
});
export default [greet];
`;

function writeGreeting(word: string): void {
  writeFileSync(join(project, "greeting.ts"), `export const greeting: string = ${JSON.stringify(word)};\n`);
}

beforeAll(async () => {
  execFileSync(process.execPath, ["scripts/build.mjs", "--no-types"], { cwd: ROOT });
  project = mkdtempSync(join(tmpdir(), "baton-dev-project-"));
  writeFileSync(join(project, "package.json"), JSON.stringify({ type: "module", private: true }));
  mkdirSync(join(project, "src"));
  writeGreeting("hello");
  writeFileSync(join(project, "src", "tasks.ts"), TASKS_SOURCE);
  // A lock left by a baton dev that was SIGKILLed: its pid is dead.
  dataDir = mkdtempSync(join(tmpdir(), "baton-dev-data-"));
  stalePid = Number(
    spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" })
      .stdout,
  );
  writeFileSync(join(dataDir, LOCK_FILE), `${stalePid}\n`);

  // A relative module path, from the project folder, as a person would type it.
  dev = startDev(["--data-dir", dataDir, "--tasks", "src/tasks.ts"], { cwd: project });
  started = await dev.started;
  env = { BATON_URL: started.url, BATON_DATA_DIR: dataDir };
  const definition = join(project, "greet.json");
  writeFileSync(definition, JSON.stringify({ name: "greet", handler: "greet" }));
  expect(await runBaton(["definitions", "put", "-f", definition], { env })).toMatchObject({ code: 0 });
}, 120_000);

afterAll(async () => {
  if (dev?.child.exitCode === null) {
    dev.child.kill("SIGTERM");
    await dev.exited;
  }
});

describe("baton dev --tasks", () => {
  it("runs the module's handlers and only those: no examples", async () => {
    expect(started.handlers).toEqual(["greet"]);
    const echo = join(project, "echo.json");
    writeFileSync(echo, JSON.stringify({ name: "echo", handler: "echo" }));
    const refused = await runBaton(["definitions", "put", "-f", echo], { env });
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('handler "echo" is not registered');

    const run = await runBaton(["start", "greet", "-p", "who=dev", "--watch"], { env });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('output: {"text":"hello dev"}');
  });

  it("takes over a stale lock, and a second baton dev on the same data folder refuses to start", async () => {
    const holder = Number(readFileSync(join(dataDir, LOCK_FILE), "utf8").trim());
    expect(holder).not.toBe(stalePid);
    expect(isLive(holder)).toBe(true);

    const second = await runBaton(["dev", "--port", "0", "--data-dir", dataDir], { timeoutMs: 60_000 });
    expect(second.code).toBe(2);
    expect(second.stderr).toContain(`in use by another baton dev (pid ${holder})`);
    // The first one is untouched: its lock and its API.
    expect(readFileSync(join(dataDir, LOCK_FILE), "utf8").trim()).toBe(String(holder));
    expect((await runBaton(["tasks", "list"], { env })).code).toBe(0);
  });

  it("reloads an edited handler in place: same emulators, runs from before kept", async () => {
    const before = await runBaton(["start", "greet", "-p", "who=before", "--watch"], { env });
    expect(before.stdout).toContain('"text":"hello before"');
    const beforeId = before.stdout.split("\n")[0] ?? "";

    const reloaded = dev.nextLine((line) => Array.isArray(line.reloaded));
    writeGreeting("good evening");
    expect((await reloaded).reloaded).toEqual(["greet"]);

    const after = await runBaton(["start", "greet", "-p", "who=after", "--watch"], { env });
    expect(after.code).toBe(0);
    expect(after.stdout).toContain('"text":"good evening after"');
    // Nothing restarted: the same API answers, with the run made before the reload.
    const old = await runBaton(["status", beforeId], { env });
    expect(old.stdout).toMatch(/status:\s+succeeded/);
    expect(old.stdout).toContain('"text":"hello before"');
  });

  it("keeps the handlers it has when the edited module does not load", async () => {
    const failed = dev.nextLine((line) => typeof line.reloadFailed === "string");
    writeFileSync(join(project, "src", "tasks.ts"), "export default 42;\n");
    expect((await failed).reloadFailed).toContain("must default-export an array of tasks");
    const run = await runBaton(["start", "greet", "-p", "who=still", "--watch"], { env });
    expect(run.code).toBe(0);

    const restored = dev.nextLine((line) => Array.isArray(line.reloaded));
    writeFileSync(join(project, "src", "tasks.ts"), TASKS_SOURCE);
    expect((await restored).reloaded).toEqual(["greet"]);
  });
});
