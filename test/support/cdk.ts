/**
 * CDK apps for the infra tests. They share one output directory per test process: CDK caches a
 * bundled asset per output directory, so every stack after the first reuses the esbuild bundle
 * instead of building its own (tens of seconds each on a busy machine).
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App } from "aws-cdk-lib";

const OUTDIR = mkdtempSync(join(tmpdir(), "baton-cdk-"));

export function testApp(context: Record<string, unknown> = {}): App {
  return new App({ outdir: OUTDIR, context });
}
