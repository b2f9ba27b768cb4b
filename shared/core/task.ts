import type { z } from "zod";
import { ValidationError } from "./errors.ts";
import type { RunStatus } from "./run.ts";
import type { RunError } from "./run-errors.ts";

export interface StoredFile {
  name: string;
  key: string;
  size: number;
}

/** A file uploaded to a destination. */
export interface UploadedFile {
  name: string;
  /** The destination's name. */
  destination: string;
  /** The file on the destination's server, e.g. `sftp://files.example.com/inbox/report.csv`; never credentials. */
  url: string;
}

export interface TaskFiles {
  /**
   * Stores a file of this run (S3) and makes it the run's file output: the run's output gets
   * `FileName`, `FileKey` and `FileSize`. The body may be a stream of any size.
   *
   * Once `ctx.signal` has fired (the attempt ran past its timeout, was cancelled, or learnt at a
   * heartbeat that another worker took its run over) a put throws the signal's reason and stores
   * nothing, and an upload under way is cancelled: a handler that goes on after its attempt
   * cannot replace the file a retry writes under the same name.
   *
   * @example
   * await ctx.files.put("contracts.zip", zipStream, { contentType: "application/zip" });
   */
  put(
    name: string,
    body: Buffer | Uint8Array | string | import("node:stream").Readable,
    options?: { contentType?: string },
  ): Promise<StoredFile>;
  /**
   * Uploads a file to one of the tenant's destinations (`PUT /v1/destinations/{name}`: an FTP,
   * FTPS or SFTP server), into the folder its URL names, and sets the run's standard output
   * `FTP-URL` to the file's URL there. The body may be a stream of any size; it is sent as it is
   * read. The destination's credentials are opened for this connection only.
   *
   * A failure ends the attempt with a code on the run's error: `destination_not_found`,
   * `destination_auth_failed`, `destination_refused` (folder, permission), `destination_untrusted`
   * (certificate or host key) and `destination_forbidden_address` fail the run at once;
   * `destination_unreachable` (no answer, timeout, "try later") retries it.
   *
   * @example
   * const { url } = await ctx.files.upload("report.csv", csvStream, { destination: "clienttrack" });
   */
  upload(
    name: string,
    body: Buffer | Uint8Array | string | import("node:stream").Readable,
    options: { destination: string },
  ): Promise<UploadedFile>;
}

/** What a handler's `ctx.tasks.start` asks for: the same fields as POST /v1/tasks, plus a call key. */
export interface TaskStartOptions {
  definition: string;
  /** Sent through JSON exactly as over HTTP: Dates become strings, functions and undefined vanish. */
  params?: Record<string, unknown>;
  /** Runs of one queue never overlap and start in order. */
  queue?: string;
  /** Start at this time (a Date, or ISO 8601 text with a zone) … */
  at?: Date | string;
  /** … or this many milliseconds from now. */
  after?: number;
  /** The tenant-wide idempotency key of POST /v1/tasks (24 h). */
  idempotencyKey?: string;
  /**
   * Names this start within the calling run, so the same call on a retry starts nothing new.
   * Default: the call's position among this attempt's starts ("1", "2", …), which holds as long
   * as the handler makes the same starts in the same order on every attempt; give a key when
   * it does not (e.g. starts that depend on the time or on a random choice).
   */
  key?: string;
}

/** A run as another run's handler sees it through `ctx.tasks.get`. */
export interface TaskInfo {
  taskId: string;
  definition: string;
  status: RunStatus;
  attempts: number;
  output: unknown;
  error: RunError | null;
  progress: number | null;
  feedback: string | null;
  subtext: string | null;
  createdAt: string;
  endedAt: string | null;
}

/** Starting and reading runs of the same tenant from inside a handler. */
export interface TaskStarter {
  /**
   * Starts a run through the same admission, limits and validation as POST /v1/tasks; a full
   * waiting line throws `QueueFullError` (code `queue_full`) and a tenant over its start rate
   * `RateLimitedError` (code `rate_limited`, with `retryAfterSeconds`), which the handler may
   * catch. The new run's `origin` names this run. Safe under at-least-once: see `key` (a repeated
   * call answers with the run it started before, whatever the rate).
   *
   * @example
   * await ctx.tasks.start({ definition: "send-email", params: { to }, queue: "email" });
   * await ctx.tasks.start({ definition: "import-batch", params: { from: next }, after: 1_000 });
   */
  start(options: TaskStartOptions): Promise<{ taskId: string; status: RunStatus }>;
  /** A run of this tenant (404-style `NotFoundError` for any other). */
  get(taskId: string): Promise<TaskInfo>;
}

export interface FeedbackOptions {
  /** `replace` (default) sets the feedback text; `append` adds a line to it. */
  mode?: "replace" | "append";
}

/** What a task handler gets besides its params. */
export interface TaskContext {
  readonly taskId: string;
  readonly tenant: string;
  readonly definition: string;
  /** The run's params snapshot, as stored (the handler's `run` gets them parsed by its schema). */
  readonly params: Readonly<Record<string, unknown>>;
  /** 1 on the first attempt; a retry after an error or a lost worker counts up. */
  readonly attempt: number;
  /**
   * In callback mode: the token the outside system sends back (`Authorization: Bearer <token>`
   * on POST /v1/callbacks). Undefined for other runs.
   */
  readonly callbackToken: string | undefined;
  /** Aborted when this attempt lost its claim on the run: stop work, the result will be discarded. */
  readonly signal: AbortSignal;
  feedback(text: string, options?: FeedbackOptions): Promise<void>;
  /** A fraction from 0 to 1. */
  progress(fraction: number): Promise<void>;
  log(line: string): Promise<void>;
  /**
   * Runs `fn` once for this run across retries and redeliveries, and returns its recorded result.
   * If a worker dies after `fn` did its work but before the result was recorded, `fn` runs again
   * on the next attempt: pass `idempotencyKey` to the system you call so that repeat is harmless.
   *
   * @example
   * await ctx.once("charge", ({ idempotencyKey }) => payments.charge(order, { idempotencyKey }));
   */
  once<T>(key: string, fn: (info: { idempotencyKey: string }) => Promise<T>): Promise<T>;
  readonly files: TaskFiles;
  /** Start other runs (or this definition again) and read them. */
  readonly tasks: TaskStarter;
}

export interface TaskHandler<P extends Record<string, unknown> = Record<string, unknown>> {
  /** The key a definition's `handler` names. */
  readonly handler: string;
  /** Validates params before the run starts (at `POST /v1/tasks`) and again before each attempt. */
  readonly params?: z.ZodType<P>;
  run(ctx: TaskContext, params: P): Promise<unknown>;
}

/**
 * Declares a task handler. Only handlers listed in the tasks module (the default-exported array
 * that `baton dev --tasks` and the `Baton` construct's `tasks` name) can run.
 *
 * @example
 * import { defineTask } from "baton";
 * export default defineTask({ handler: "echo", async run(_ctx, params) { return params; } });
 */
export function defineTask<P extends Record<string, unknown>>(task: TaskHandler<P>): TaskHandler<P> {
  return task;
}

/** The handlers that exist in code, by key. */
export class HandlerRegistry {
  readonly #handlers = new Map<string, TaskHandler>();

  constructor(handlers: readonly TaskHandler<Record<string, unknown>>[]) {
    for (const handler of handlers) {
      if (this.#handlers.has(handler.handler))
        throw new Error(`handler "${handler.handler}" is registered twice`);
      this.#handlers.set(handler.handler, handler);
    }
  }

  get(key: string): TaskHandler | undefined {
    return this.#handlers.get(key);
  }

  keys(): string[] {
    return [...this.#handlers.keys()].sort();
  }

  /** Params as the handler will see them, or a ValidationError naming what is wrong. */
  parseParams(key: string, params: Record<string, unknown>): Record<string, unknown> {
    const handler = this.#handlers.get(key);
    if (handler?.params === undefined) return params;
    const result = handler.params.safeParse(params);
    if (!result.success) {
      throw new ValidationError(`params do not match handler "${key}"`, {
        details: result.error.issues.map((issue) => ({ path: issue.path.join("."), message: issue.message })),
      });
    }
    return result.data;
  }
}
