/**
 * The path a new team takes, end to end, with nothing from this repository beside the project:
 * `baton init` a project (which packs this package into the project's vendor/ folder with
 * scripts/pack.mjs, built afresh, and depends on the tarball), `npm install` it (from the npm cache where it can) with no
 * warning, type-check it, run `baton dev --tasks` on its handlers and start one over HTTP, then
 * `cdk synth` it offline. Each step's time is printed (the whole takes a few minutes, most of it
 * npm installing aws-cdk-lib).
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import ts from "typescript";
import { afterAll, beforeAll, expect, it } from "vitest";

const REPO = join(import.meta.dirname, "..", "..");
const { version } = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { version: string };
const work = mkdtempSync(join(tmpdir(), "baton-adopt-"));
const project = join(work, "my-tasks");
/** This Node (the project's Node 22) first, so npm's scripts and `npx` run on it too. */
const env = {
  ...process.env,
  PATH: [dirname(process.execPath), process.env.PATH ?? ""].join(delimiter),
  npm_config_audit: "false",
  npm_config_fund: "false",
  npm_config_update_notifier: "false",
  CDK_DISABLE_VERSION_CHECK: "true",
};
let dev: ChildProcess | undefined;

function timed<T>(step: string, fn: () => T): T {
  const started = Date.now();
  const result = fn();
  console.log(`adopt: ${step} took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return result;
}

function run(command: string, args: string[], cwd: string): string {
  return execFileSync(command, args, { cwd, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** What `npm install` printed on stderr: a fresh install of the project must warn of nothing. */
let installWarnings: string[] = [];

beforeAll(() => {
  // The CLI that packs: the build of this checkout (scripts/pack.mjs builds the package afresh).
  timed("npm run build", () =>
    run(process.execPath, [join(REPO, "scripts", "build.mjs"), "--no-types"], REPO),
  );
  const created = timed("baton init (packing included)", () =>
    run(process.execPath, [join(REPO, "dist", "cli", "baton.mjs"), "init", project], work),
  );
  expect(created).toContain(`vendor/baton-${version}.tgz`);
  const manifest = JSON.parse(readFileSync(join(project, "package.json"), "utf8"));
  expect(manifest.dependencies.baton).toBe(`file:vendor/baton-${version}.tgz`);
  const tarball = statSync(join(project, "vendor", `baton-${version}.tgz`));
  console.log(`adopt: the package is ${(tarball.size / 1024).toFixed(0)} kB packed`);
  const install = timed("npm install", () =>
    spawnSync("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund"], {
      cwd: project,
      env,
      encoding: "utf8",
    }),
  );
  if (install.status !== 0) throw new Error(`npm install failed: ${install.stderr}`);
  // npm runs on this Node (first on PATH), which the package's engines accept: no line is expected.
  installWarnings = install.stderr.split("\n").filter((line) => /warn/i.test(line));
}, 600_000);

/** `baton dev --tasks` in the project, resolved with its `--json` line once it is up. */
function startDev(dataDir: string): Promise<{ url: string; adminKey: string; handlers: string[] }> {
  const child = spawn(
    process.execPath,
    [
      join(project, "node_modules", "baton", "dist", "cli", "baton.mjs"),
      "dev",
      "--tasks",
      "src/tasks/index.ts",
      "--port",
      "0",
      "--data-dir",
      dataDir,
      "--workers",
      "1",
      "--json",
    ],
    { cwd: project, env, stdio: ["ignore", "pipe", "pipe"] },
  );
  dev = child;
  let stderr = "";
  child.stderr?.on("data", (chunk) => {
    stderr += String(chunk);
  });
  return new Promise((resolve, reject) => {
    let stdout = "";
    child.stdout?.on("data", (chunk) => {
      stdout += String(chunk);
      const line = stdout.split("\n").find((l) => l.startsWith("{"));
      if (line !== undefined) resolve(JSON.parse(line));
    });
    child.on("exit", (code) => reject(new Error(`baton dev exited ${code}: ${stderr}`)));
  });
}

afterAll(() => {
  if (dev?.exitCode === null) dev.kill("SIGKILL");
  rmSync(work, { recursive: true, force: true });
});

it("installs with no file of this repository beside it, and its handlers type-check against the package", () => {
  // No install script to allow (the packed package.json has none) and nothing else to worry about.
  expect(installWarnings).toEqual([]);
  const installed = join(project, "node_modules", "baton");
  const installedManifest = JSON.parse(readFileSync(join(installed, "package.json"), "utf8"));
  expect(installedManifest.scripts).toBeUndefined();
  expect(installedManifest.devDependencies).toBeUndefined();
  // A copy, not a link into this repository.
  expect(existsSync(join(installed, "dist", "index.mjs"))).toBe(true);
  expect(existsSync(join(installed, "shared"))).toBe(false);
  expect(readdirSync(installed).sort()).toEqual(["README.md", "dist", "package.json"]);
  // The handler SDK's declarations reach no AWS SDK and no server code: only zod and Node.
  const seen = new Set<string>();
  const packagesReached = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const match of readFileSync(file, "utf8").matchAll(
      /^(?:import|export)\b[^;]*?from "([^"]+)"|import\("([^"]+)"\)/gm,
    )) {
      const specifier = match[1] ?? match[2];
      if (specifier === undefined) continue;
      if (specifier.startsWith(".")) visit(join(dirname(file), specifier.replace(/\.ts$/, ".d.ts")));
      else packagesReached.add(specifier);
    }
  };
  visit(join(installed, "dist", "index.d.ts"));
  expect([...packagesReached].filter((name) => name !== "zod" && !name.startsWith("node:"))).toEqual([]);
  timed("tsc --noEmit", () =>
    run(process.execPath, [join(project, "node_modules", "typescript", "bin", "tsc"), "--noEmit"], project),
  );
}, 300_000);

/** The names a declarations file exports as values (classes, functions, constants), not types only. */
function declaredValues(declarations: string): string[] {
  const program = ts.createProgram([declarations], {
    noEmit: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
  });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(declarations);
  const module = source === undefined ? undefined : checker.getSymbolAtLocation(source);
  if (module === undefined) throw new Error(`${declarations} is not a module`);
  return checker
    .getExportsOfModule(module)
    .filter((symbol) => {
      const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
      return (target.flags & ts.SymbolFlags.Value) !== 0;
    })
    .map((symbol) => symbol.name)
    .sort();
}

it("ships one declarations file per entry, holding only that entry's API and promising exactly its values", async () => {
  const installed = join(project, "node_modules", "baton");
  const declarationFiles = execFileSync("find", ["dist", "-name", "*.d.ts"], {
    cwd: installed,
    encoding: "utf8",
  })
    .split("\n")
    .filter(Boolean)
    .sort();
  // No per-file declarations of Baton's internals (stores, adapters, the engine) ship.
  expect(declarationFiles).toEqual(["dist/cdk/index.d.ts", "dist/client/index.d.ts", "dist/index.d.ts"]);
  for (const [entry, bundle] of [
    ["dist/index.d.ts", "dist/index.mjs"],
    ["dist/client/index.d.ts", "dist/client/index.mjs"],
    ["dist/cdk/index.d.ts", "dist/cdk/index.mjs"],
  ] as const) {
    const text = readFileSync(join(installed, entry), "utf8");
    // Self-contained: nothing imported from a path inside the package.
    expect(text).not.toMatch(/^(?:import|export)\b[^;\n]*from ['"]\.\.?\//m);
    // A value the declarations promise but the bundle lacks would type-check and then fail at run time.
    const runtime = Object.keys(await import(join(installed, bundle))).sort();
    expect({ entry, values: declaredValues(join(installed, entry)) }).toEqual({ entry, values: runtime });
  }
}, 300_000);

it("runs its handlers with baton dev --tasks and runs a task started over HTTP", async () => {
  const dataDir = join(work, "data");
  const started = Date.now();
  // On a crowded machine DynamoDB Local can miss baton dev's 30 s start-up limit; that start is
  // tried again (twice at most). Any other failure fails the test.
  let ready: { url: string; adminKey: string; handlers: string[] } | undefined;
  for (let attempt = 1; ready === undefined; attempt++) {
    try {
      ready = await startDev(dataDir);
    } catch (error) {
      if (attempt === 3 || !String(error).includes("did not answer within")) throw error;
    }
  }
  console.log(`adopt: baton dev started in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  // Only the project's handlers: none of this repository's examples.
  expect(ready.handlers).toEqual(["hello"]);

  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${ready.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${ready.adminKey}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  expect((await call("PUT", "/v1/definitions/hello", { handler: "hello" })).status).toBeLessThan(300);
  // The api checks params against the project's handler.
  const refused = await call("POST", "/v1/tasks", { definition: "hello", params: { name: 42 } });
  expect(refused).toMatchObject({ status: 400, body: { error: "validation_failed" } });

  const { body: startedRun } = await call("POST", "/v1/tasks", {
    definition: "hello",
    params: { name: "Ada" },
  });
  let run: Record<string, unknown> = {};
  for (let i = 0; i < 300; i++) {
    run = (await call("GET", `/v1/tasks/${String(startedRun.taskId)}`)).body;
    if (run.status === "succeeded" || run.status === "failed") break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  expect(run).toMatchObject({ status: "succeeded", output: { greeting: "Hello, Ada!" } });

  const exited = new Promise<number | null>((resolve) => dev?.on("exit", (code) => resolve(code)));
  dev?.kill("SIGTERM");
  expect(await exited).toBe(0);
}, 300_000);

it("synthesizes offline with the Baton construct, its handlers bundled into the worker", () => {
  timed("cdk synth", () =>
    run(
      process.execPath,
      [join(project, "node_modules", "aws-cdk", "bin", "cdk"), "synth", "--quiet"],
      project,
    ),
  );
  const out = join(project, "cdk.out");
  const template = JSON.parse(readFileSync(join(out, "my-tasks.template.json"), "utf8")) as {
    Resources: Record<string, { Type: string; Properties: { Handler?: string; Code?: { S3Key?: string } } }>;
  };
  const functions = Object.values(template.Resources).filter((r) => r.Type === "AWS::Lambda::Function");
  const worker = functions.find((f) => f.Properties.Handler === "index.worker");
  expect(functions.map((f) => f.Properties.Handler).sort()).toEqual(
    expect.arrayContaining(["index.api", "index.sweeper", "index.trigger", "index.worker"]),
  );
  const bundle = readFileSync(
    join(out, `asset.${worker?.Properties.Code?.S3Key?.replace(/\.zip$/, "")}`, "index.mjs"),
    "utf8",
  );
  expect(bundle).toContain("Hello, ");
  // Exactly the project's module: this repository's examples are not in it.
  expect(bundle).not.toContain("notify-signups");
}, 300_000);
