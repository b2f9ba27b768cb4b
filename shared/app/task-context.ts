/** The `ctx` one attempt's handler gets: its run's facts and what it may do during the attempt. */
import { ValidationError } from "../core/errors.ts";
import { jsonBytes, LIMITS } from "../core/limits.ts";
import type { Run } from "../core/run.ts";
import type { StoredFile, TaskContext, UploadedFile } from "../core/task.ts";
import type { AttemptLease } from "./attempt-lease.ts";
import type { AttemptReport } from "./attempt-report.ts";
import { taskStarter } from "./child-starts.ts";
import type { Services } from "./services.ts";
import { uploadFile } from "./uploads.ts";

const ONCE_KEY = /^[A-Za-z0-9:._-]{1,128}$/;
const FILE_NAME = /^[A-Za-z0-9._-]{1,128}$/;

/** What the attempt learns from its handler's context calls, for the worker to record at the end. */
export interface AttemptState {
  /** The params the handler sees (sealed values opened), once the worker has opened them. */
  openedParams?: Record<string, unknown>;
  callbackToken?: string;
  /** The file the handler stored last: the run's file output. */
  lastFile?: StoredFile;
  /** The file the handler uploaded last: the run's `FTP-URL` output. */
  lastUpload?: UploadedFile;
}

export function taskContext(
  svc: Services,
  run: Run,
  lease: AttemptLease,
  report: AttemptReport,
  state: AttemptState,
): TaskContext {
  const onceResults = new Map(Object.entries(run.once));
  const starter = taskStarter(svc, run);
  return {
    taskId: run.id,
    tenant: run.tenant,
    definition: run.definition,
    get params() {
      return state.openedParams ?? run.params;
    },
    attempt: run.attempts,
    get callbackToken() {
      return state.callbackToken;
    },
    signal: lease.signal,
    feedback: async (text, options) => report.feedback(String(text), options),
    progress: async (fraction) => report.progress(fraction),
    log: async (line) => {
      // Kept on the run (GET /v1/tasks/{id}) and sent to the function's log, with the run's keys.
      svc.log.info(String(line), { source: "handler" });
      report.log(String(line), svc.clock.now());
    },
    files: {
      put: async (name, body, options = {}) => {
        if (!FILE_NAME.test(name) || name.includes("..")) {
          throw new ValidationError(`file name "${name}" must be 1-128 letters, digits, '.', '_' or '-'`);
        }
        const key = `${run.tenant}/${run.id}/${name}`;
        // An attempt past its timeout, cancelled or taken over keeps running until its handler
        // returns; its files must not replace the ones a retry writes under the same names.
        lease.signal.throwIfAborted();
        const { size } = await svc.files.put(key, body, options.contentType ?? "application/octet-stream", {
          signal: lease.signal,
        });
        lease.signal.throwIfAborted();
        state.lastFile = { name, key, size };
        return state.lastFile;
      },
      upload: async (name, body, { destination }) => {
        state.lastUpload = await uploadFile(svc, run.tenant, {
          name,
          body,
          destination,
          signal: lease.signal,
        });
        return state.lastUpload;
      },
    },
    once: async <T>(key: string, fn: (info: { idempotencyKey: string }) => Promise<T>): Promise<T> => {
      if (!ONCE_KEY.test(key)) throw new ValidationError(`once key "${key}" must match ${ONCE_KEY}`);
      const done = onceResults.get(key);
      if (done !== undefined) return done.result as T;
      const result = toJsonValue(await fn({ idempotencyKey: `${run.tenant}:${run.id}:${key}` }));
      if (jsonBytes(result) > LIMITS.onceResultBytes) {
        throw new ValidationError(`once("${key}") result exceeds ${LIMITS.onceResultBytes} bytes`);
      }
      const record = { attempt: run.attempts, at: svc.clock.now().toISOString(), result };
      if (!(await lease.write({ once: { key, record } }))) throw lease.signal.reason;
      onceResults.set(key, record);
      return result as T;
    },
    tasks: {
      // An attempt that was cancelled or lost its claim starts nothing more.
      start: async (options) => {
        lease.signal.throwIfAborted();
        return starter.start(options);
      },
      get: (taskId) => starter.get(taskId),
    },
  };
}

/** A value as JSON would store it (undefined becomes null). Throws on what JSON cannot hold. */
export function toJsonValue(value: unknown): unknown {
  if (value === undefined) return null;
  const text = JSON.stringify(value);
  return text === undefined ? null : JSON.parse(text);
}
