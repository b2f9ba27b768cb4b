/** Handlers that exist only for tests: they make timing, counting and crashes observable. */
import { appendFileSync } from "node:fs";
import { Readable } from "node:stream";
import { trace } from "@opentelemetry/api";
import { exampleTasks } from "../../examples/index.ts";
import { BatonError } from "../../shared/core/errors.ts";
import { defineTask, HandlerRegistry, type TaskStartOptions } from "../../shared/core/task.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Invocation counts by task id, for the worker that runs inside the test process. */
export const invocations = new Map<string, number>();

export const testTasks = [
  /** Sleeps `ms`, returns when it started and ended (epoch ms) so tests can check overlap and order. */
  defineTask({
    handler: "timed",
    async run(ctx, params) {
      invocations.set(ctx.taskId, (invocations.get(ctx.taskId) ?? 0) + 1);
      const start = Date.now();
      await sleep(Number(params.ms ?? 100));
      return { start, end: Date.now(), seq: params.seq ?? null };
    },
  }),
  /**
   * Records a side effect once (a line in `params.file`), then on the first attempt holds for
   * `params.holdMs` so a test can kill the worker process mid-run.
   */
  defineTask({
    handler: "effect-then-hold",
    async run(ctx, params) {
      const file = String(params.file);
      await ctx.once("effect", async ({ idempotencyKey }) => {
        appendFileSync(file, `${idempotencyKey} attempt ${ctx.attempt}\n`);
        return { wrote: true };
      });
      await ctx.feedback(`effect recorded on attempt ${ctx.attempt}`);
      if (ctx.attempt === 1) await sleep(Number(params.holdMs ?? 60_000));
      return { finishedOnAttempt: ctx.attempt };
    },
  }),
];

/**
 * The fault suite's task: one side effect through `ctx.once` (a line with its idempotency key in
 * `params.file`, as a system that honours the key would store it), then `params.steps` short
 * steps with feedback, so a crash or a failed write can land anywhere in the attempt.
 */
export const onceEffectTask = defineTask({
  handler: "once-effect",
  async run(ctx, params) {
    await ctx.once("effect", async ({ idempotencyKey }) => {
      appendFileSync(String(params.file), `${idempotencyKey} attempt ${ctx.attempt}\n`);
      return { wrote: true };
    });
    const steps = Number(params.steps ?? 2);
    for (let step = 1; step <= steps; step += 1) {
      await sleep(Number(params.stepMs ?? 50));
      await ctx.feedback(`step ${step} of ${steps}`);
    }
    return { attempt: ctx.attempt };
  },
});

/** The contract-generator of the admission tests: one feedback line per item, slowly. */
export const itemsTask = defineTask({
  handler: "items",
  async run(ctx, params) {
    const start = Date.now();
    const items = Array.isArray(params.items) ? params.items.map(String) : [];
    for (const item of items) {
      await sleep(Number(params.stepMs ?? 100));
      ctx.signal.throwIfAborted();
      await ctx.feedback(`created ${item}`, { mode: "append" });
    }
    return { start, end: Date.now(), count: items.length };
  },
});

/** Never returns and ignores its signal: only a timeout or a cancel can end it. */
export const hangTask = defineTask({
  handler: "hang",
  async run() {
    await new Promise(() => undefined);
  },
});

/** Streams `params.mib` MiB of a repeating pattern into a file: big enough for a multipart upload. */
export const writeStreamTask = defineTask({
  handler: "write-stream",
  async run(ctx, params) {
    const mib = Number(params.mib ?? 6);
    const chunk = Buffer.alloc(1024 * 1024, "baton ");
    async function* chunks() {
      for (let i = 0; i < mib; i += 1) yield chunk;
    }
    const file = await ctx.files.put("big.bin", Readable.from(chunks()));
    return { wrote: file.size };
  },
});

/** Tells what it saw of an encrypted param without ever returning it. */
export const peekSecretTask = defineTask({
  handler: "peek-secret",
  async run(ctx, params) {
    const password = String(params.password);
    return {
      passwordLength: password.length,
      passwordStartsWith: password.slice(0, 2),
      ctxSeesClearText: ctx.params.password === params.password,
      greet: params.greet,
    };
  },
});

/** Returns an output of about `params.bytes` bytes of JSON: `{ blob: "xxx…" }`. */
export const sizedOutputTask = defineTask({
  handler: "sized-output",
  async run(_ctx, params) {
    return { blob: "x".repeat(Math.max(0, Number(params.bytes ?? 0) - 11)) };
  },
});

/** Does its work in a span of its own (OpenTelemetry API), as a user's handler would. */
export const tracedTask = defineTask({
  handler: "traced",
  async run(_ctx, params) {
    return trace.getTracer("user-code").startActiveSpan("user.work", async (span) => {
      await sleep(Number(params.ms ?? 20));
      span.end();
      return { worked: true };
    });
  },
});

/** One start a `starter` run makes: ctx.tasks.start's options, with `at` given relative to now. */
type StartSpec = Omit<TaskStartOptions, "at"> & { atInMs?: number; withOddValues?: boolean };

/**
 * Starts runs from its handler with ctx.tasks.start, in order. A refused start is caught and
 * reported by its error code when `params.catch` is true. With `params.holdFile`, the first
 * attempt then writes a line there and holds, so a test can kill its worker; with
 * `params.failFirst`, the first attempt throws after its starts (a retry follows).
 */
export const starterTask = defineTask({
  handler: "starter",
  async run(ctx, params) {
    const results: unknown[] = [];
    for (const { atInMs, withOddValues, ...spec } of (params.starts ?? []) as StartSpec[]) {
      const options: TaskStartOptions = {
        ...spec,
        ...(atInMs === undefined ? {} : { at: new Date(Date.now() + atInMs) }),
        // What JSON does to these is what the child must see: a string, and nothing.
        ...(withOddValues
          ? { params: { ...spec.params, when: new Date(0), gone: undefined, fn: () => 1 } }
          : {}),
      };
      try {
        results.push(await ctx.tasks.start(options));
      } catch (error) {
        if (params.catch !== true || !(error instanceof BatonError)) throw error;
        results.push({ error: error.code });
      }
    }
    if (typeof params.read === "string") {
      try {
        results.push({ read: await ctx.tasks.get(params.read) });
      } catch (error) {
        results.push({ readError: (error as BatonError).code });
      }
    }
    if (ctx.attempt === 1 && typeof params.holdFile === "string") {
      appendFileSync(params.holdFile, `started on attempt ${ctx.attempt}\n`);
      await sleep(120_000);
    }
    if (ctx.attempt === 1 && params.failFirst === true)
      throw new Error("first attempt fails after its starts");
    return { results, attempt: ctx.attempt };
  },
});

/** Hangs (ignoring its signal) on the first attempt only; later attempts succeed at once. */
export const hangOnceTask = defineTask({
  handler: "hang-once",
  async run(ctx) {
    if (ctx.attempt === 1) await new Promise(() => undefined);
    return { attempt: ctx.attempt };
  },
});

/**
 * Uploads `params.text` (or, with `params.kib`, a stream of that many KiB) as `params.name` to the
 * destination `params.destination`.
 */
export const uploadTask = defineTask({
  handler: "upload-file",
  async run(ctx, params) {
    const kib = params.kib === undefined ? undefined : Number(params.kib);
    const chunk = Buffer.alloc(1024, "upload ");
    async function* chunks(count: number) {
      for (let i = 0; i < count; i += 1) yield chunk;
    }
    const body = kib === undefined ? String(params.text ?? "hello\n") : Readable.from(chunks(kib));
    const file = await ctx.files.upload(String(params.name ?? "report.txt"), body, {
      destination: String(params.destination),
    });
    return { uploaded: file.name, to: file.destination };
  },
});

export const testRegistry = new HandlerRegistry([
  ...exampleTasks,
  ...testTasks,
  itemsTask,
  hangTask,
  writeStreamTask,
  peekSecretTask,
  onceEffectTask,
  starterTask,
  hangOnceTask,
  uploadTask,
  tracedTask,
  sizedOutputTask,
]);
