/**
 * The dashboard ships inside the Lambda bundle: synthesize the stack (esbuild bundles the api),
 * then load the bundle in a plain Node process, as Lambda would, and ask its api handler for
 * GET / and for a dashboard file.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { App } from "aws-cdk-lib";
import { afterAll, describe, expect, it } from "vitest";
import { BatonStack } from "../../infra/baton-stack.ts";
import { ENV } from "../../shared/config.ts";

const outdir = mkdtempSync(join(tmpdir(), "baton-synth-"));
const app = new App({ outdir });
const stack = new BatonStack(app, "Baton");
const assembly = app.synth();
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

/** The folder CDK zips for the api function: `asset.<hash>` beside the template. */
function apiBundleDir(): string {
  const resources = assembly.getStackByName(stack.stackName).template.Resources as Record<
    string,
    { Type: string; Properties: { Code?: { S3Key?: string } } }
  >;
  const id = stack.getLogicalId(stack.apiFunction.node.defaultChild as never);
  const key = resources[id]?.Properties.Code?.S3Key;
  if (key === undefined) throw new Error("the api function has no S3 code key");
  return join(outdir, `asset.${key.replace(/\.zip$/, "")}`);
}

/** Invokes the bundle's `api` export in a fresh Node process with a GET event for each path. */
function invokeBundle(
  dir: string,
  paths: string[],
): Array<{ statusCode: number; headers: Record<string, string>; body: string }> {
  const script = `
    const { api } = await import(${JSON.stringify(pathToFileURL(join(dir, "index.mjs")).href)});
    const results = [];
    for (const path of JSON.parse(process.argv[1])) {
      const event = {
        version: "2.0", routeKey: "$default", rawPath: path, rawQueryString: "", headers: {},
        requestContext: { http: { method: "GET", path, protocol: "HTTP/1.1", sourceIp: "127.0.0.1", userAgent: "test" },
          requestId: "r", routeKey: "$default", stage: "$default", time: "", timeEpoch: 0,
          accountId: "1", apiId: "a", domainName: "d", domainPrefix: "d" },
        isBase64Encoded: false,
      };
      results.push(await api(event, { awsRequestId: "r", getRemainingTimeInMillis: () => 1000 }));
    }
    console.log(JSON.stringify(results));`;
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "",
    [ENV.runsTable]: "runs",
    [ENV.definitionsTable]: "definitions",
    [ENV.tenantsTable]: "tenants",
    [ENV.keysTable]: "keys",
    [ENV.countersTable]: "counters",
    [ENV.chainsTable]: "chains",
    [ENV.grantsTable]: "grants",
    [ENV.destinationsTable]: "destinations",
    [ENV.filesBucket]: "files",
    [ENV.runQueueUrl]: "https://sqs.us-east-1.amazonaws.com/000000000000/runs.fifo",
    [ENV.fairRunQueueUrl]: "https://sqs.us-east-1.amazonaws.com/000000000000/runs-fair",
    AWS_REGION: "us-east-1",
  };
  // Run from outside the project, so nothing can resolve from its node_modules.
  const out = execFileSync(process.execPath, ["--input-type=module", "-e", script, JSON.stringify(paths)], {
    cwd: dir,
    env,
    encoding: "utf8",
  });
  return JSON.parse(out.trim().split("\n").at(-1) ?? "[]");
}

describe("the Lambda bundle", () => {
  it("carries the dashboard's files beside index.mjs", () => {
    const dir = apiBundleDir();
    expect(existsSync(join(dir, "index.mjs"))).toBe(true);
    const source = new URL("../../functions/api/dashboard/", import.meta.url);
    for (const file of ["index.html", "app.js", "style.css"]) {
      expect(readFileSync(join(dir, "dashboard", file), "utf8")).toBe(
        readFileSync(new URL(file, source), "utf8"),
      );
    }
  });

  it("serves the dashboard from its api handler, as on AWS", () => {
    const [page] = invokeBundle(apiBundleDir(), ["/"]);
    expect(page?.statusCode).toBe(200);
    expect(page?.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(page?.headers["content-security-policy"]).toContain("script-src 'self'");
    const script = /src="(dashboard\/[0-9a-f]{12}\/app\.js)"/.exec(page?.body ?? "")?.[1];
    expect(script).toBeDefined();
    const [app, css] = invokeBundle(apiBundleDir(), [
      `/${script}`,
      `/${script?.replace("app.js", "style.css")}`,
    ]);
    expect(app?.statusCode).toBe(200);
    expect(app?.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    expect(app?.body).toBe(
      readFileSync(new URL("../../functions/api/dashboard/app.js", import.meta.url), "utf8"),
    );
    expect(css?.headers["content-type"]).toBe("text/css; charset=utf-8");
  });
});
