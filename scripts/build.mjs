// `npm run build` (also run by `prepare`, so `npm install` builds): bundles the `baton` CLI and
// the typed client into dist/ with esbuild (dependencies stay external: they are installed), then
// emits the client's type declarations with tsc so `import ... from "baton/client"` is typed.
// `--no-types` skips the declarations (the slow part): the CLI tests build that way.
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { build } from "esbuild";

const { values: flags } = parseArgs({ options: { "no-types": { type: "boolean" } } });
process.chdir(fileURLToPath(new URL("..", import.meta.url)));
const started = Date.now();

/**
 * Bundles one entry and moves it into place in one rename, so a test (or a person) running the
 * binary while another build writes it never executes half a file.
 */
async function bundle(entry, outfile, options = {}) {
  const result = await build({
    entryPoints: [entry],
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
  mkdirSync(dirname(outfile), { recursive: true });
  const temporary = `${outfile}.${process.pid}.tmp`;
  writeFileSync(temporary, output.contents, { mode: 0o755 });
  chmodSync(temporary, 0o755);
  renameSync(temporary, outfile);
}

await Promise.all([
  bundle("cli/main.ts", "dist/cli/baton.mjs", { banner: { js: "#!/usr/bin/env node" } }),
  bundle("shared/client/index.ts", "dist/client/index.mjs"),
]);

if (flags["no-types"]) {
  console.log(`built dist/cli/baton.mjs and dist/client/index.mjs in ${Date.now() - started} ms`);
  process.exit(0);
}
rmSync("dist/client/types", { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
const declarations = spawnSync(process.execPath, [tsc, "-p", "tsconfig.client.json"], { stdio: "inherit" });
if (declarations.status !== 0) process.exit(declarations.status ?? 1);
console.log(`built dist/cli/baton.mjs and dist/client in ${Date.now() - started} ms`);
