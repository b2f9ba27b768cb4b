/**
 * The fast tier's harness: Baton's use cases on the in-memory adapters (shared/memory), with a
 * clock that moves only when told, the example handlers, and handlers whose timing the test holds
 * in its hand (`gates`), so a test can stop a run mid-attempt without waiting on real time.
 */
import exampleAwaitCallback from "../../examples/await-callback.ts";
import exampleEcho from "../../examples/echo.ts";
import exampleFail from "../../examples/fail.ts";
import exampleWriteFile from "../../examples/write-file.ts";
import { type DefinitionInput, putDefinition } from "../../shared/app/definitions.ts";
import type { StartInput } from "../../shared/app/engine.ts";
import type { TenantPrincipal } from "../../shared/app/identity.ts";
import { startTask } from "../../shared/app/tasks.ts";
import type { TaskDefinition } from "../../shared/core/definition.ts";
import type { Run } from "../../shared/core/run.ts";
import { defineTask, HandlerRegistry, type TaskHandler } from "../../shared/core/task.ts";
import {
  type MemoryServices,
  type MemoryServicesOptions,
  memoryServices,
} from "../../shared/memory/services.ts";

export function caller(tenant = "acme", role: "admin" | "runner" = "admin"): TenantPrincipal {
  return { kind: "tenant", tenant, role, keyId: `${tenant}-${role}-key` };
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

type GateOutcome = { kind: "return"; value: unknown } | { kind: "throw"; error: Error };

/**
 * Holds runs of the `gated` handler mid-attempt: `arrived` resolves once an attempt of the run is
 * inside its handler, and the handler returns (or throws) only when the test opens its gate.
 */
export class Gates {
  readonly #arrived = new Map<string, Deferred<number>>();
  readonly #gates = new Map<string, Deferred<GateOutcome>>();

  #key(taskId: string, attempt: number) {
    return `${taskId}#${attempt}`;
  }

  #arrival(taskId: string, attempt: number): Deferred<number> {
    const key = this.#key(taskId, attempt);
    let entry = this.#arrived.get(key);
    if (entry === undefined) {
      entry = deferred<number>();
      this.#arrived.set(key, entry);
    }
    return entry;
  }

  #gate(taskId: string, attempt: number): Deferred<GateOutcome> {
    const key = this.#key(taskId, attempt);
    let entry = this.#gates.get(key);
    if (entry === undefined) {
      entry = deferred<GateOutcome>();
      this.#gates.set(key, entry);
    }
    return entry;
  }

  /** Called by the handler: reports arrival and waits for the gate. */
  async enter(taskId: string, attempt: number): Promise<unknown> {
    this.#arrival(taskId, attempt).resolve(attempt);
    const outcome = await this.#gate(taskId, attempt).promise;
    if (outcome.kind === "throw") throw outcome.error;
    return outcome.value;
  }

  /** Resolves when attempt `attempt` of the run is inside its handler. */
  arrived(taskId: string, attempt = 1): Promise<number> {
    return this.#arrival(taskId, attempt).promise;
  }

  open(taskId: string, value: unknown = { opened: true }, attempt = 1): void {
    this.#gate(taskId, attempt).resolve({ kind: "return", value });
  }

  fail(taskId: string, error: Error, attempt = 1): void {
    this.#gate(taskId, attempt).resolve({ kind: "throw", error });
  }
}

export interface AppHarness extends MemoryServices {
  /** Tenant "acme": an admin and a runner. */
  admin: TenantPrincipal;
  runner: TenantPrincipal;
  gates: Gates;
  /** How many times each run's handler was entered (any test handler). */
  invocations: Map<string, number>;
  define(name: string, input: DefinitionInput, tenant?: string): Promise<TaskDefinition>;
  start(input: StartInput, as?: TenantPrincipal): Promise<Run>;
  /** The run as stored now (throws if there is none). */
  run(id: string, tenant?: string): Promise<Run>;
  /** Lines logged at error level (a use case that threw inside the worker logs one). */
  errors(): string[];
}

export function appHarness(options: Partial<MemoryServicesOptions> & { handlers?: TaskHandler[] } = {}) {
  const gates = new Gates();
  const invocations = new Map<string, number>();
  const count = (taskId: string) => invocations.set(taskId, (invocations.get(taskId) ?? 0) + 1);
  const testHandlers: TaskHandler[] = [
    /** Waits for its gate; with `checkpoint`, writes a ctx.once record afterwards (a write the worker guards). */
    defineTask({
      handler: "gated",
      async run(ctx, params) {
        count(ctx.taskId);
        const value = await gates.enter(ctx.taskId, ctx.attempt);
        if (params.checkpoint === true) await ctx.once("checkpoint", async () => ctx.attempt);
        return value;
      },
    }),
    /** Fails its first `failures` attempts, then returns the attempt it succeeded on. */
    defineTask({
      handler: "flaky",
      async run(ctx, params) {
        count(ctx.taskId);
        const failures = Number(params.failures ?? 1);
        await ctx.once("side-effect", async () => ({ firstAttempt: ctx.attempt }));
        if (ctx.attempt <= failures) throw new Error(`failure on attempt ${ctx.attempt}`);
        return { succeededOnAttempt: ctx.attempt, params };
      },
    }),
    /** Counts, then echoes its params. */
    defineTask({
      handler: "counted",
      async run(ctx, params) {
        count(ctx.taskId);
        return params;
      },
    }),
  ];
  const registry = new HandlerRegistry([
    exampleEcho,
    exampleFail,
    exampleAwaitCallback,
    exampleWriteFile,
    ...testHandlers,
    ...(options.handlers ?? []),
  ]);
  const mem = memoryServices({ registry, ...options });
  const admin = caller("acme", "admin");
  const runner = caller("acme", "runner");
  const harness: AppHarness = {
    ...mem,
    admin,
    runner,
    gates,
    invocations,
    async define(name, input, tenant = "acme") {
      return (await putDefinition(mem.svc, tenant, name, input)).definition;
    },
    async start(input, as = runner) {
      return (await startTask(mem.svc, as, input)).run;
    },
    async run(id, tenant = "acme") {
      const run = await mem.svc.runs.get({ tenant, id });
      if (run === undefined) throw new Error(`no run ${tenant}/${id}`);
      return run;
    },
    errors() {
      return mem.log.entries.filter((entry) => entry.level === "error").map((entry) => entry.message);
    },
  };
  return harness;
}
