/**
 * Lambda entry points. Config is parsed, and its secrets read, once per cold start (a top-level
 * await: the bundle is ESM); the handler registry is the user's tasks/index.ts, bundled by the
 * CDK stack.
 */

import { sweep } from "../shared/app/sweeper.ts";
import { composeServices, resolveSecrets } from "../shared/compose.ts";
import { configFromEnv } from "../shared/config.ts";
import { registry } from "../tasks/index.ts";
import { createApiHandler } from "./api/handler.ts";
import { createTriggerHandler } from "./trigger/handler.ts";
import { createWorkerHandler } from "./worker/handler.ts";

const config = await resolveSecrets(configFromEnv(process.env));
const services = composeServices({ config, registry });

export const api = createApiHandler(services);
export const worker = createWorkerHandler(services);
/** Delayed starts: the SQS delay queue and EventBridge Scheduler invoke it. */
export const trigger = createTriggerHandler(services);
/** Invoked every minute by an EventBridge rule. */
export const sweeper = async () => sweep(services);
