/**
 * `baton init [dir]`: a minimal project that uses Baton as a package — one handler, `baton dev`
 * for local runs and a CDK app with the `Baton` construct for deployment. It writes only files
 * that do not exist yet, so it never overwrites a project's own.
 *
 * Baton is not on the npm registry (the name there is another package's), so by default the
 * project gets this Baton packed into its own `vendor/` folder and depends on that tarball: a
 * path inside the project, which works on every clone of it and in CI.
 */
import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import packageJson from "../package.json" with { type: "json" };
import { StepFailedError, UsageError } from "./exit-codes.ts";

export interface InitOptions {
  /** What the project's package.json depends on for baton (default: this Baton, packed into vendor/). */
  baton?: string;
  /** Packs Baton into a folder and returns the tarball's path (default: `packBaton`); for tests. */
  pack?: (destination: string) => string;
}

/** Where the default puts the packed Baton, inside the project. */
export const VENDOR_DIR = "vendor";

/** The starter's files by path; `name` is the project's package name. */
export function starterFiles(name: string, batonSpec: string): Record<string, string> {
  const { devDependencies, dependencies } = packageJson;
  const project = {
    name,
    version: "0.1.0",
    private: true,
    type: "module",
    // The project runs on what Baton runs on: an older Node would install with EBADENGINE warnings.
    engines: { node: packageJson.engines.node },
    scripts: {
      dev: "baton dev --tasks src/tasks/index.ts",
      typecheck: "tsc --noEmit",
      synth: "cdk synth",
      deploy: "cdk deploy",
    },
    dependencies: { baton: batonSpec, zod: dependencies.zod },
    // esbuild's binary is needed; ssh2's optional native speed-ups are not (it runs without them).
    // A packed baton has no install script; one from a git URL has its `prepare` (a build from
    // source, which the project never needs).
    // `node` installs the project's own Node (as in Baton's repository), so `npm run dev`, `npx
    // baton` and `npx cdk` run on a Node that Baton supports whatever the machine's Node is.
    allowScripts: { node: true, esbuild: true, ssh2: false, "cpu-features": false, baton: false },
    devDependencies: {
      "@types/node": devDependencies["@types/node"],
      "aws-cdk": devDependencies["aws-cdk"],
      "aws-cdk-lib": devDependencies["aws-cdk-lib"],
      constructs: devDependencies.constructs,
      node: devDependencies.node,
      tsx: dependencies.tsx,
      typescript: devDependencies.typescript,
    },
  };
  return {
    "package.json": `${JSON.stringify(project, null, 2)}\n`,
    "tsconfig.json": `${JSON.stringify(
      {
        compilerOptions: {
          target: "ES2023",
          lib: ["ES2023"],
          module: "NodeNext",
          moduleResolution: "NodeNext",
          types: ["node"],
          strict: true,
          verbatimModuleSyntax: true,
          allowImportingTsExtensions: true,
          noEmit: true,
          skipLibCheck: true,
        },
        include: ["src", "infra"],
      },
      null,
      2,
    )}\n`,
    "cdk.json": `${JSON.stringify({ app: "npx tsx infra/app.ts", context: { "cli-telemetry": false }, notices: false }, null, 2)}\n`,
    ".gitignore": "node_modules/\ncdk.out/\n.baton/\n",
    "src/tasks/hello.ts": `import { defineTask } from "baton";
import { z } from "zod";

/** Greets someone: start it with {"name": "Ada"}. */
export default defineTask({
  handler: "hello",
  params: z.object({ name: z.string().min(1) }),
  async run(ctx, { name }) {
    await ctx.log(\`greeting \${name}\`);
    return { greeting: \`Hello, \${name}!\` };
  },
});
`,
    "src/tasks/index.ts": `// Every handler Baton runs, locally (baton dev --tasks) and deployed (the Baton construct).
import hello from "./hello.ts";

export default [hello];
`,
    "infra/app.ts": `import { App, Stack } from "aws-cdk-lib";
import { Baton } from "baton/cdk";

const app = new App();
const stack = new Stack(app, ${JSON.stringify(stackName(name))});
// Props tune the deployment (workerMaxConcurrency, retentionDays, alarmTopic, removalPolicy, ...).
new Baton(stack, "Baton", { tasks: "src/tasks/index.ts" });
`,
    "README.md": `# ${name}

Background tasks on Baton. Handlers live in \`src/tasks/\`; \`src/tasks/index.ts\` lists them.
${
  batonSpec.startsWith(`file:${VENDOR_DIR}/`)
    ? `Baton itself is the tarball in \`${VENDOR_DIR}/\` (it is not on the npm registry): keep it in the
repository. To upgrade, in a newer Baton checkout run
\`npm run package -- --destination <this project>/${VENDOR_DIR}\`, then here
\`npm install ./${VENDOR_DIR}/baton-<version>.tgz\` (by that path, even if the name is unchanged: a
plain \`npm install\` keeps the Baton it installed before) and delete any older tarball.
`
    : ""
}
\`\`\`sh
npm run dev          # Baton on this machine: API, dashboard, worker (state in .baton/)
npx cdk deploy       # the same in your AWS account (the Baton construct in infra/app.ts)
\`\`\`

With \`npm run dev\` running, in a second terminal:

\`\`\`sh
export BATON_URL=http://127.0.0.1:3000 BATON_KEY=$(cat .baton/dev-key)
curl -s -X PUT $BATON_URL/v1/definitions/hello -H "Authorization: Bearer $BATON_KEY" \\
  -H 'content-type: application/json' -d '{"handler": "hello"}'
npx baton start hello -p name=Ada --watch
\`\`\`
`,
  };
}

/** A CloudFormation stack name from the package name: letters, digits and hyphens. */
function stackName(name: string): string {
  const cleaned = name
    .replace(/^@[^/]+\//, "")
    .replace(/[^A-Za-z0-9-]+/g, "-")
    .replace(/^[^A-Za-z]+/, "");
  return cleaned === "" ? "BatonTasks" : cleaned;
}

/** Writes the starter into `dir` and returns the files written. */
export function initProject(dir: string, options: InitOptions = {}): string[] {
  const root = resolve(dir);
  if (existsSync(root) && readdirSync(root).some((entry) => entry === "package.json")) {
    throw new UsageError(`${root} already has a package.json: baton init starts a new project`);
  }
  const name =
    basename(root)
      .toLowerCase()
      .replace(/[^a-z0-9._-]+/g, "-") || "baton-tasks";
  const written: string[] = [];
  let batonSpec = options.baton;
  if (batonSpec === undefined) {
    const tarball = vendorBaton(root, options.pack ?? packBaton);
    if (tarball.packed) written.push(tarball.path);
    batonSpec = `file:${tarball.path}`;
  }
  const files = starterFiles(name, batonSpec);
  for (const [path, text] of Object.entries(files)) {
    const file = join(root, path);
    if (existsSync(file)) continue;
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
    written.push(path);
  }
  return written;
}

/**
 * The project's `vendor/baton-<version>.tgz`: one already there is kept (init never overwrites a
 * file); otherwise Baton is packed into a scratch folder and moved in, so a failed pack leaves
 * no folder and no part of a file behind.
 */
function vendorBaton(root: string, pack: (destination: string) => string): { path: string; packed: boolean } {
  const path = `${VENDOR_DIR}/baton-${packageJson.version}.tgz`;
  const target = join(root, path);
  if (existsSync(target)) return { path, packed: false };
  const scratch = mkdtempSync(join(tmpdir(), "baton-init-"));
  try {
    const tarball = pack(scratch);
    mkdirSync(dirname(target), { recursive: true });
    // A copy, not a rename: the scratch folder may be on another file system.
    copyFileSync(tarball, target);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return { path, packed: true };
}

/** The folder of the Baton package this CLI runs from: a checkout, or an installed copy. */
function batonRoot(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    const manifest = join(dir, "package.json");
    if (
      existsSync(manifest) &&
      (JSON.parse(readFileSync(manifest, "utf8")) as { name?: string }).name === "baton"
    ) {
      return dir;
    }
  }
  throw new UsageError("cannot find the Baton package this command runs from: give --baton <spec>");
}

/**
 * Packs the Baton this CLI runs from into `destination` and returns the tarball's path,
 * `baton-<version>.tgz` as npm names it. A checkout packs with its scripts/pack.mjs (built
 * afresh; a package.json with no scripts, so installing it asks to run nothing); an installed
 * copy, whose package.json has none already, with `npm pack`.
 */
export function packBaton(destination: string): string {
  const root = batonRoot();
  const packScript = join(root, "scripts", "pack.mjs");
  const [command, args, shell] = existsSync(packScript)
    ? [process.execPath, [packScript, "--destination", destination], false]
    : ["npm", ["pack", root, "--ignore-scripts", "--pack-destination", destination], true];
  // npm is a script on Windows, run through its shell: quote the paths for it.
  const throughShell = shell && process.platform === "win32";
  const packed = spawnSync(command, throughShell ? args.map((arg) => `"${arg}"`) : args, {
    encoding: "utf8",
    stdio: ["ignore", "ignore", "pipe"],
    shell: throughShell,
  });
  const tarball = join(destination, `baton-${packageJson.version}.tgz`);
  if (packed.status !== 0 || !existsSync(tarball)) {
    const printed = `${packed.stderr ?? ""}`.trim().split("\n").slice(-5).join("\n");
    throw new StepFailedError(
      `packing Baton failed (${packed.error?.message ?? `exit ${packed.status}`})${printed === "" ? "" : `:\n${printed}`}\ngive --baton <spec> to depend on Baton another way`,
    );
  }
  return tarball;
}
