/**
 * `baton init [dir]`: a minimal project that uses Baton as a package — one handler, `baton dev`
 * for local runs and a CDK app with the `Baton` construct for deployment. It writes only files
 * that do not exist yet, so it never overwrites a project's own.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import packageJson from "../package.json" with { type: "json" };
import { UsageError } from "./exit-codes.ts";

export interface InitOptions {
  /** What the project's package.json depends on for baton (default: `^<this version>`). */
  baton?: string;
}

/** The starter's files by path; `name` is the project's package name. */
export function starterFiles(name: string, batonSpec: string): Record<string, string> {
  const { devDependencies, dependencies } = packageJson;
  const project = {
    name,
    version: "0.1.0",
    private: true,
    type: "module",
    engines: { node: ">=22.5" },
    scripts: {
      dev: "baton dev --tasks src/tasks/index.ts",
      typecheck: "tsc --noEmit",
      synth: "cdk synth",
      deploy: "cdk deploy",
    },
    dependencies: { baton: batonSpec, zod: dependencies.zod },
    // esbuild's binary is needed; ssh2's optional native speed-ups are not (it runs without them).
    // baton's own `prepare` builds it from source, which a packed baton never needs.
    allowScripts: { esbuild: true, ssh2: false, "cpu-features": false, baton: false },
    devDependencies: {
      "@types/node": devDependencies["@types/node"],
      "aws-cdk": devDependencies["aws-cdk"],
      "aws-cdk-lib": devDependencies["aws-cdk-lib"],
      constructs: devDependencies.constructs,
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

Background tasks on [Baton](https://www.npmjs.com/package/baton). Handlers live in
\`src/tasks/\`; \`src/tasks/index.ts\` lists them.

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
  const files = starterFiles(name, options.baton ?? `^${packageJson.version}`);
  const written: string[] = [];
  for (const [path, text] of Object.entries(files)) {
    const file = join(root, path);
    if (existsSync(file)) continue;
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
    written.push(path);
  }
  return written;
}
