/**
 * Following a run by polling `GET /v1/tasks/{id}`: quickly while it moves, backing off while it
 * does not, so a long quiet run costs few requests and a busy one shows every step.
 */
import { BatonClientError } from "./errors.ts";
import { isTerminalStatus, type TaskView } from "./types.ts";

export interface WatchOptions {
  /** First and shortest pause between polls (default 200 ms); used again after every change. */
  minIntervalMs?: number;
  /** Longest pause, reached while nothing changes (default 2 s). */
  maxIntervalMs?: number;
  /** How much the pause grows after a poll that saw no change (default 1.5). */
  backoff?: number;
  /** Gives up with a BatonWatchTimeoutError after this long (default: never). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface WaitOptions extends WatchOptions {
  /** Called with each changed view, the final one included. */
  onUpdate?: (task: TaskView) => void;
}

/** The run did not end within `timeoutMs`; `last` is the last view seen. */
export class BatonWatchTimeoutError extends BatonClientError {
  readonly last: TaskView | undefined;
  constructor(taskId: string, timeoutMs: number, last: TaskView | undefined) {
    super(
      `task "${taskId}" did not end within ${timeoutMs} ms${last === undefined ? "" : ` (it is ${last.status})`}`,
    );
    this.last = last;
  }
}

interface TaskReader {
  getTask(taskId: string): Promise<TaskView>;
}

/** Yields the run's view whenever it changed since the last poll; the last view yielded is terminal. */
export async function* watchTask(
  client: TaskReader,
  taskId: string,
  options: WatchOptions = {},
): AsyncGenerator<TaskView, void, undefined> {
  const minInterval = options.minIntervalMs ?? 200;
  const maxInterval = Math.max(minInterval, options.maxIntervalMs ?? 2_000);
  const backoff = Math.max(1, options.backoff ?? 1.5);
  const deadline =
    options.timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + options.timeoutMs;
  let interval = minInterval;
  let lastSeen: string | undefined;
  let last: TaskView | undefined;
  for (;;) {
    options.signal?.throwIfAborted();
    const task = await client.getTask(taskId);
    // updatedAt moves on every write, but progress/feedback flushes are what people watch: compare all.
    const seen = JSON.stringify(task);
    if (seen !== lastSeen) {
      lastSeen = seen;
      last = task;
      interval = minInterval;
      yield task;
    } else {
      interval = Math.min(maxInterval, interval * backoff);
    }
    if (isTerminalStatus(task.status)) return;
    if (Date.now() + interval > deadline) {
      throw new BatonWatchTimeoutError(taskId, options.timeoutMs ?? 0, last);
    }
    await sleep(interval, options.signal);
  }
}

/** Polls until the run ends and answers its final view. */
export async function waitForEnd(
  client: TaskReader,
  taskId: string,
  options: WaitOptions = {},
): Promise<TaskView> {
  let last: TaskView | undefined;
  for await (const task of watchTask(client, taskId, options)) {
    last = task;
    options.onUpdate?.(task);
  }
  if (last === undefined) throw new BatonClientError(`watching task "${taskId}" ended without a view`);
  return last;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(done, ms);
    function done() {
      signal?.removeEventListener("abort", aborted);
      resolve();
    }
    function aborted() {
      clearTimeout(timer);
      reject(signal?.reason);
    }
    signal?.addEventListener("abort", aborted, { once: true });
  });
}
