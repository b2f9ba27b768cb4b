/**
 * Lambda entry points, for the tasks module the CDK construct bundles with them: the construct
 * writes a small entry that imports the project's tasks module and this file, and exports the
 * four handlers `lambdaHandlers` makes (infra/baton-stack.ts, `lambdaEntry`). Config is parsed,
 * and its secrets read, once per cold start (a top-level await there: the bundle is ESM).
 */

import { sweep } from "../shared/app/sweeper.ts";
import { composeServices, resolveSecrets } from "../shared/compose.ts";
import { configFromEnv } from "../shared/config.ts";
import { registryFromTaskModule } from "../shared/core/task-module.ts";
import { startTracing, type Tracing } from "../shared/observability/otel.ts";
import { createApiHandler } from "./api/handler.ts";
import { createEventsHandler } from "./events/handler.ts";
import { streamingLambda } from "./events/lambda-stream.ts";
import { createTriggerHandler } from "./trigger/handler.ts";
import { createWorkerHandler } from "./worker/handler.ts";

/** Sends an invocation's spans before it returns: a frozen Lambda sends nothing. */
function flushedBy(tracing: Tracing | undefined) {
  return <A extends unknown[], R>(handler: (...args: A) => Promise<R>): ((...args: A) => Promise<R>) => {
    if (tracing === undefined) return handler;
    return async (...args) => {
      try {
        return await handler(...args);
      } finally {
        await tracing.flush().catch(() => undefined);
      }
    };
  };
}

export async function lambdaHandlers(tasks: unknown, source: string) {
  const config = await resolveSecrets(configFromEnv(process.env));
  const services = composeServices({ config, registry: registryFromTaskModule(tasks, source) });
  /** Set up only when OTEL_EXPORTER_OTLP_ENDPOINT is set (docs/observability.md#traces). */
  const flushed = flushedBy(startTracing(process.env));
  const api = createApiHandler(services);
  return {
    api: flushed(api),
    /** GET /v1/tasks/{id}/events behind a function URL with response streaming (an HTTP API cannot stream). */
    events: streamingLambda(createEventsHandler(services, api)),
    worker: flushed(createWorkerHandler(services)),
    /** Delayed starts: the SQS delay queue and EventBridge Scheduler invoke it. */
    trigger: flushed(createTriggerHandler(services)),
    /** Invoked every minute by an EventBridge rule. */
    sweeper: flushed(async () => sweep(services)),
  };
}
