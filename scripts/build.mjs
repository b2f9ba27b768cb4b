// `npm run build` (also run by `prepare`, so `npm install` builds): bundles the `baton` CLI and
// the typed client into dist/ with esbuild (dependencies stay external: they are installed), then
// emits the client's type declarations with tsc so `import ... from "baton/client"` is typed.
// `--no-types` skips the declarations (the slow part): the CLI tests build that way.
import { spawnSync } from "node:child_process";
import { chmodSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { parseArgs } from "node:util";
import { build } from "esbuild";

const { values: flags } = parseArgs({ options: { "no-types": { type: "boolean" } } });
const started = Date.now();
const common = {
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  packages: "external",
  logLevel: "warning",
};
await Promise.all([
  build({
    ...common,
    entryPoints: ["cli/main.ts"],
    outfile: "dist/cli/baton.mjs",
    banner: { js: "#!/usr/bin/env node" },
  }),
  build({ ...common, entryPoints: ["shared/client/index.ts"], outfile: "dist/client/index.mjs" }),
]);
chmodSync("dist/cli/baton.mjs", 0o755);

if (flags["no-types"]) {
  console.log(`built dist/cli/baton.mjs and dist/client/index.mjs in ${Date.now() - started} ms`);
  process.exit(0);
}
rmSync("dist/client/types", { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
const declarations = spawnSync(process.execPath, [tsc, "-p", "tsconfig.client.json"], { stdio: "inherit" });
if (declarations.status !== 0) process.exit(declarations.status ?? 1);
console.log(`built dist/cli/baton.mjs and dist/client in ${Date.now() - started} ms`);
