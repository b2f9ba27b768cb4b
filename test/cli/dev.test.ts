/**
 * `baton dev` is `npm run dev`: the built binary starts local/main.ts (its own emulators, API and
 * worker) and the other commands find it through the key it keeps in its data folder.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { BATON_BIN, runBaton } from "./run-cli.ts";

let dev: ChildProcess | undefined;

beforeAll(() => {
  execFileSync(process.execPath, ["scripts/build.mjs", "--no-types"], {
    cwd: join(import.meta.dirname, "..", ".."),
  });
});

afterAll(() => {
  if (dev?.exitCode === null) dev.kill("SIGKILL");
});

it("starts the local stack, serves the CLI with its dev key, and stops cleanly", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "baton-dev-"));
  dev = spawn(
    process.execPath,
    [BATON_BIN, "dev", "--examples", "--port", "0", "--data-dir", dataDir, "--workers", "1", "--json"],
    {
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "" },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stderr = "";
  dev.stderr?.on("data", (chunk) => {
    stderr += String(chunk);
  });
  const started = await new Promise<{ url: string; adminKey: string; dataDir: string }>((resolve, reject) => {
    let stdout = "";
    dev?.stdout?.on("data", (chunk) => {
      stdout += String(chunk);
      const line = stdout.split("\n").find((l) => l.startsWith("{"));
      if (line !== undefined) resolve(JSON.parse(line));
    });
    dev?.on("exit", (code) => reject(new Error(`baton dev exited ${code}: ${stderr}`)));
  });
  expect(started.dataDir).toBe(dataDir);
  expect(readFileSync(join(dataDir, "dev-key"), "utf8").trim()).toBe(started.adminKey);

  // No BATON_KEY: the CLI reads the dev key from the data folder, as a person's second terminal would.
  const env = { BATON_URL: started.url, BATON_DATA_DIR: dataDir };
  const def = join(dataDir, "echo.json");
  writeFileSync(def, JSON.stringify({ name: "echo", handler: "echo" }));
  expect(await runBaton(["definitions", "put", "-f", def], { env })).toMatchObject({ code: 0 });
  const run = await runBaton(["start", "echo", "-p", "who=dev", "--watch"], { env });
  expect(run.code).toBe(0);
  expect(run.stdout).toContain('output: {"who":"dev"}');

  const exited = new Promise<number | null>((resolve) => dev?.on("exit", (code) => resolve(code)));
  dev.kill("SIGTERM");
  expect(await exited).toBe(0);
}, 90_000);

it("refuses bad dev flags as usage errors", async () => {
  const result = await runBaton(["dev", "--port", "http"]);
  expect(result.code).toBe(2);
  expect(result.stderr).toContain('"http" is not a port number');
});
