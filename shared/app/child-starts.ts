/**
 * `ctx.tasks`: a handler starting and reading runs of its own tenant. A start goes through the
 * engine exactly as POST /v1/tasks does (same schema, admission, limits and errors); what differs
 * is the run's id, derived from the calling run and the call's key, so a handler that runs again
 * after a crash or a retry makes the same start and creates nothing new.
 */
import { createHash } from "node:crypto";
import { ConflictError, ValidationError } from "../core/errors.ts";
import { provenanceFrom } from "../core/lifecycle.ts";
import type { Run } from "../core/run.ts";
import { StartRequest } from "../core/start-request.ts";
import type { TaskInfo, TaskStarter, TaskStartOptions } from "../core/task.ts";
import { startRun } from "./engine.ts";
import { runCaller } from "./identity.ts";
import type { Services } from "./services.ts";
import { findRun } from "./tasks.ts";

/** Letters, digits and `:@.+_-` (an email address fits), at most 128. */
const CALL_KEY = /^[A-Za-z0-9:@.+_-]{1,128}$/;

/** The `ctx.tasks` of one attempt of `run`. Unkeyed starts are numbered in call order. */
export function taskStarter(svc: Services, run: Run): TaskStarter {
  let calls = 0;
  return {
    start: (options) => {
      calls += 1;
      return startFromTask(svc, run, options.key ?? String(calls), options);
    },
    get: (taskId) => readFromTask(svc, run, taskId),
  };
}

/** The id of the run that `key` starts from `parent`: the same call always names the same run. */
export function childRunId(parent: Pick<Run, "tenant" | "id">, key: string): string {
  const digest = createHash("sha256").update(`${parent.tenant}\n${parent.id}\n${key}`).digest("base64url");
  return `tk-${digest.slice(0, 32)}`;
}

async function startFromTask(
  svc: Services,
  parent: Run,
  key: string,
  options: TaskStartOptions,
): Promise<{ taskId: string; status: Run["status"] }> {
  if (!CALL_KEY.test(key)) throw new ValidationError(`start key "${key}" must match ${CALL_KEY}`);
  const { key: _key, ...fields } = options;
  const parsed = StartRequest.safeParse(asJson(fields));
  if (!parsed.success) {
    throw new ValidationError("ctx.tasks.start was given an invalid start", {
      details: parsed.error.issues.map((issue) => ({ path: issue.path.join("."), message: issue.message })),
    });
  }
  const id = childRunId(parent, key);
  try {
    const { run } = await startRun(svc, runCaller(parent), parsed.data, {
      trigger: "task",
      id,
      origin: provenanceFrom(parent, `task:${key}`),
    });
    return { taskId: run.id, status: run.status };
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error;
    // An earlier attempt made this start already: answer with that run, as it is now.
    const existing = await svc.runs.get({ tenant: parent.tenant, id });
    if (existing === undefined) throw error;
    return { taskId: existing.id, status: existing.status };
  }
}

/** Through JSON, exactly as an HTTP body would be: Dates become text, undefined and functions vanish. */
function asJson(fields: Omit<TaskStartOptions, "key">): unknown {
  try {
    return JSON.parse(JSON.stringify(fields));
  } catch (error) {
    throw new ValidationError(`ctx.tasks.start params are not JSON: ${(error as Error).message}`);
  }
}

async function readFromTask(svc: Services, parent: Run, taskId: string): Promise<TaskInfo> {
  const run = await findRun(svc, runCaller(parent), taskId);
  return {
    taskId: run.id,
    definition: run.definition,
    status: run.status,
    attempts: run.attempts,
    output: run.output ?? null,
    error: run.error ?? null,
    progress: run.progress ?? null,
    feedback: run.feedback ?? null,
    subtext: run.subtext ?? null,
    createdAt: run.createdAt,
    endedAt: run.endedAt ?? null,
  };
}
