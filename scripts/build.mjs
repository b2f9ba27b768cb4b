// `npm run build` (also run by `prepare`, so `npm install` builds): everything the published
// package runs, in dist/, built with esbuild (dependencies stay external: they are installed):
// - dist/index.mjs (`baton`, the handler SDK), dist/lambda.mjs (the Lambda runtime the `Baton`
//   construct bundles with a project's tasks) and dist/dev.mjs (`baton dev`'s local stack), in
//   one build with shared chunks: a handler's `NonRetriableError` is the class the worker checks;
// - dist/dashboard/ (read beside those files), dist/cdk/index.mjs (`baton/cdk`),
//   dist/client/index.mjs (`baton/client`), dist/cli/baton.mjs (the `baton` CLI);
// then the public entries' type declarations: tsc writes per-file declarations into a scratch
// folder and API Extractor rolls each entry's up into one file beside its bundle (dist/index.d.ts,
// dist/client/index.d.ts, dist/cdk/index.d.ts) holding only what that entry exports and the types
// those signatures reach, so the package ships no declarations of Baton's internals.
// `--no-types` skips the declarations (the slow part): the CLI tests build that way.
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { CompilerState, Extractor, ExtractorConfig } from "@microsoft/api-extractor";
import { build } from "esbuild";

const { values: flags } = parseArgs({ options: { "no-types": { type: "boolean" } } });
const root = fileURLToPath(new URL("..", import.meta.url));
process.chdir(root);
const started = Date.now();

/**
 * Bundles one entry and moves it into place in one rename, so a test (or a person) running the
 * binary while another build writes it never executes half a file.
 */
async function bundle(entry, outfile, options = {}) {
  const result = await build({
    entryPoints: [entry],
    // esbuild keeps the directory it was started in, not the chdir above: from another folder
    // (baton init packing a checkout) its entries would read as packages.
    absWorkingDir: root,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    logLevel: "warning",
    write: false,
    ...options,
  });
  const [output] = result.outputFiles;
  replaceFile(outfile, output.contents, 0o755);
}

/**
 * The runtime entries in one build whose shared code lands in chunks beside them (dist/, where
 * the dashboard's `./dashboard/` resolves), written into a fresh folder and moved into place.
 */
async function runtime() {
  const result = await build({
    entryPoints: { index: "shared/sdk/index.ts", lambda: "functions/lambda.ts", dev: "local/main.ts" },
    absWorkingDir: root,
    bundle: true,
    splitting: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    outExtension: { ".js": ".mjs" },
    chunkNames: "lib-[hash]",
    logLevel: "warning",
    write: false,
    outdir: "dist",
  });
  // New files land before stale ones go: a local stack started from dist/ while another build
  // runs (the package test packs mid-suite) always finds the chunks and dashboard files it imports.
  const written = new Set();
  for (const output of result.outputFiles) {
    replaceFile(output.path, output.contents);
    written.add(output.path);
  }
  for (const name of readdirSync("dist")) {
    const path = join(root, "dist", name);
    if (/^lib-.*\.mjs$/.test(name) && !written.has(path)) rmSync(path, { force: true });
  }
  mirrorFolder("functions/api/dashboard", "dist/dashboard");
}

/** Writes a file whole under its name in one rename: a reader sees the old file or the new one. */
function replaceFile(path, contents, mode) {
  mkdirSync(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, contents, mode === undefined ? {} : { mode });
  if (mode !== undefined) chmodSync(temporary, mode);
  renameSync(temporary, path);
}

/** Makes `to` hold what `from` holds, file by file with replaceFile, then drops what `from` lacks. */
function mirrorFolder(from, to) {
  const kept = new Set();
  for (const entry of readdirSync(from, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const relative = join(entry.parentPath, entry.name).slice(from.length + 1);
    replaceFile(join(to, relative), readFileSync(join(from, relative)));
    kept.add(relative);
  }
  for (const entry of readdirSync(to, { recursive: true, withFileTypes: true })) {
    const relative = join(entry.parentPath, entry.name).slice(to.length + 1);
    // Another build running at once may own a .tmp file here, or have removed a stale file already.
    if (entry.isFile() && !kept.has(relative) && !relative.endsWith(".tmp")) {
      rmSync(join(to, relative), { force: true });
    }
  }
}

await Promise.all([
  bundle("cli/main.ts", "dist/cli/baton.mjs", { banner: { js: "#!/usr/bin/env node" } }),
  bundle("shared/client/index.ts", "dist/client/index.mjs"),
  bundle("infra/index.ts", "dist/cdk/index.mjs"),
  runtime(),
]);

if (flags["no-types"]) {
  console.log(`built dist/ (no declarations) in ${Date.now() - started} ms`);
  process.exit(0);
}
const scratch = "dist/types";
rmSync(scratch, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
const declarations = spawnSync(process.execPath, [tsc, "-p", "tsconfig.types.json"], { stdio: "inherit" });
if (declarations.status !== 0) process.exit(declarations.status ?? 1);
/** The public entries: where tsc leaves each one's declarations, and where its roll-up goes. */
const entries = [
  { from: `${scratch}/shared/sdk/index.d.ts`, to: "dist/index.d.ts" },
  { from: `${scratch}/shared/client/index.d.ts`, to: "dist/client/index.d.ts" },
  { from: `${scratch}/infra/index.d.ts`, to: "dist/cdk/index.d.ts" },
];
// One TypeScript program for the three entries: building it (aws-cdk-lib's declarations) is the slow part.
let compilerState;
for (const { from, to } of entries) rollUpDeclarations(from, to);
rmSync(scratch, { recursive: true, force: true });
console.log(`built dist/ in ${Date.now() - started} ms`);

/**
 * One entry's declarations in one file. API Extractor reports are off (no API review files in
 * this repo); its messages that only matter for such reports (release tags, TSDoc style) are
 * silenced, and anything else it finds fails the build.
 */
function rollUpDeclarations(entry, rollUp) {
  const config = ExtractorConfig.prepare({
    configObjectFullPath: undefined,
    packageJsonFullPath: join(process.cwd(), "package.json"),
    configObject: {
      projectFolder: process.cwd(),
      mainEntryPointFilePath: join(process.cwd(), entry),
      compiler: { tsconfigFilePath: join(process.cwd(), "tsconfig.types.json") },
      apiReport: { enabled: false },
      docModel: { enabled: false },
      tsdocMetadata: { enabled: false },
      dtsRollup: { enabled: true, untrimmedFilePath: join(process.cwd(), rollUp) },
      messages: {
        compilerMessageReporting: { default: { logLevel: "warning" } },
        extractorMessageReporting: {
          default: { logLevel: "warning" },
          "ae-missing-release-tag": { logLevel: "none" },
          "ae-forgotten-export": { logLevel: "none" },
        },
        tsdocMessageReporting: { default: { logLevel: "none" } },
      },
    },
  });
  compilerState ??= CompilerState.create(config, {
    additionalEntryPoints: entries.map(({ from }) => join(process.cwd(), from)),
  });
  const result = Extractor.invoke(config, {
    localBuild: true,
    compilerState,
    // Which TypeScript it analyses with is news to nobody running `npm install`.
    messageCallback: (message) => {
      if (message.category === "console" && message.logLevel === "info") message.handled = true;
    },
  });
  if (!result.succeeded || result.warningCount > 0) {
    console.error(`declarations for ${entry}: ${result.errorCount} errors, ${result.warningCount} warnings`);
    process.exit(1);
  }
}
