/**
 * Lambda entry points. Config is parsed, and its secrets read, once per cold start (a top-level
 * await: the bundle is ESM); the handler registry is the user's tasks/index.ts, bundled by the
 * CDK stack.
 */

import { sweep } from "../shared/app/sweeper.ts";
import { composeServices, resolveSecrets } from "../shared/compose.ts";
import { configFromEnv } from "../shared/config.ts";
import { startTracing } from "../shared/observability/otel.ts";
import { registry } from "../tasks/index.ts";
import { createApiHandler } from "./api/handler.ts";
import { createTriggerHandler } from "./trigger/handler.ts";
import { createWorkerHandler } from "./worker/handler.ts";

const config = await resolveSecrets(configFromEnv(process.env));
const services = composeServices({ config, registry });
/** Set up only when OTEL_EXPORTER_OTLP_ENDPOINT is set (docs/observability.md#traces). */
const tracing = startTracing(process.env);

/** Sends an invocation's spans before it returns: a frozen Lambda sends nothing. */
function flushed<A extends unknown[], R>(handler: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  if (tracing === undefined) return handler;
  return async (...args) => {
    try {
      return await handler(...args);
    } finally {
      await tracing.flush().catch(() => undefined);
    }
  };
}

export const api = flushed(createApiHandler(services));
export const worker = flushed(createWorkerHandler(services));
/** Delayed starts: the SQS delay queue and EventBridge Scheduler invoke it. */
export const trigger = flushed(createTriggerHandler(services));
/** Invoked every minute by an EventBridge rule. */
export const sweeper = flushed(async () => sweep(services));
