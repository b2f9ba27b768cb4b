/**
 * Response schemas of the v1 API: what every answer looks like. present.ts returns these types,
 * the OpenAPI document (openapi.ts) is generated from them, and the API tests validate real
 * answers against them. Strict objects, so a field added to an answer without its schema fails.
 */
import { z } from "zod";
import { ATTEMPT_OUTCOMES, ATTEMPT_STACK_BYTES, ATTEMPT_STACK_FRAMES } from "../../shared/core/attempts.ts";
import { BULK_ACTIONS, BULK_STATUSES } from "../../shared/core/bulk.ts";
import { ChainOutcome, ChainSpec } from "../../shared/core/chain.ts";
import { TaskDefinition } from "../../shared/core/definition.ts";
import { LIMITS } from "../../shared/core/limits.ts";
import { RUN_STATUSES, RUN_TRIGGERS } from "../../shared/core/run.ts";
import { RunErrorCode } from "../../shared/core/run-errors.ts";
import { Role, TenantLimits } from "../../shared/core/tenant.ts";

const Time = z.string().describe("ISO 8601 time, UTC");
const JsonObject = z.record(z.string(), z.unknown());

/** Every `error` code the API answers with; clients branch on these, not on messages. */
export const ERROR_CODES = [
  "validation_failed",
  "invalid_json",
  "unknown_definition",
  "unauthorized",
  "forbidden",
  "not_found",
  "route_not_found",
  "conflict",
  "payload_too_large",
  "queue_full",
  "rate_limited",
  "internal_error",
  "unavailable",
] as const;

export const ErrorBody = z.strictObject({
  error: z.enum(ERROR_CODES),
  message: z.string().describe("for people; may change between releases"),
  details: z
    .unknown()
    .optional()
    .describe(
      "structured context: for validation_failed the list of {path, message} problems; for rate_limited {retryAfterSeconds, startsPerSecond, burst}",
    ),
});
export type ErrorBody = z.infer<typeof ErrorBody>;

/** Exported so the document has it as one component, which runs' and chain outcomes' errors name. */
export { RunErrorCode };

const DependencyState = z
  .enum(["ok", "unreachable"])
  .describe("unreachable: it did not answer a cheap read in time, or refused it");
const Dependencies = z
  .strictObject({ dynamodb: DependencyState, sqs: DependencyState, s3: DependencyState })
  .describe("the database (every table), the run queue and the files bucket");

export const Health = z.strictObject({
  ok: z.literal(true).describe("the same as status; kept for clients of the first release"),
  status: z.literal("ok"),
  dependencies: Dependencies,
});
export type Health = z.infer<typeof Health>;

/** GET /health's 503: an error body that also says which dependencies did not answer. */
export const HealthUnavailable = z.strictObject({
  error: z.literal("unavailable"),
  message: z.string(),
  dependencies: Dependencies,
});
export type HealthUnavailable = z.infer<typeof HealthUnavailable>;

export const TenantView = z.strictObject({
  id: z.string(),
  name: z.string().optional(),
  createdAt: Time,
  /** Set by the operator; absent ones are the defaults (chain depth 8, chain tree 1,000 runs, no start rate). */
  limits: TenantLimits.optional(),
});

/** The limits in force for a tenant (GET /v1/tenants/{id}/limits): what was set, defaults for the rest. */
export const TenantLimitsView = z.strictObject({
  maxChainDepth: z.number().int().describe("hops a chain tree may grow below its root"),
  maxChainTree: z.number().int().describe("runs a chain tree may hold, its root included"),
  maxConcurrency: z
    .number()
    .int()
    .nullable()
    .describe("the tenant's runs that may hold a slot at once, across its definitions; null: no cap"),
  maxWaiting: z
    .number()
    .int()
    .nullable()
    .describe("runs that may wait in the tenant-wide line; null: no limit"),
  startsPerSecond: z.number().nullable().describe("starts per second the tenant may make; null: no limit"),
  burst: z.number().int().nullable().describe("starts allowed at once after idling; null: no limit"),
});

export const CallerView = z.union([
  z.strictObject({ role: z.literal("operator") }),
  z.strictObject({ tenant: z.string(), role: Role, keyId: z.string() }),
]);
export type CallerView = z.infer<typeof CallerView>;

export const KeyView = z.strictObject({ keyId: z.string(), role: Role, createdAt: Time });
export type KeyView = z.infer<typeof KeyView>;

export const IssuedKeyView = z.strictObject({
  tenant: z.string(),
  keyId: z.string(),
  role: Role,
  key: z.string().describe("the API key itself; shown once, only its hash is stored"),
  createdAt: Time,
});

export const DefinitionView = z.strictObject(TaskDefinition.omit({ tenant: true }).shape);
export type DefinitionView = z.infer<typeof DefinitionView>;

export const ChainView = z.strictObject({
  name: z.string(),
  definition: z.string(),
  description: z.string().optional(),
  createdAt: Time,
  updatedAt: Time,
});
export type ChainView = z.infer<typeof ChainView>;

export const GrantView = z.strictObject({ sourceTenant: z.string(), chain: z.string(), createdAt: Time });

export const DestinationView = z.strictObject({
  name: z.string(),
  url: z.string().describe("where files go; never credentials"),
  username: z.string(),
  credentials: z
    .array(z.enum(["password", "privateKey"]))
    .describe("which credentials are set; their values are never shown"),
  hostKey: z.string().optional().describe("SFTP: the host key fingerprint the server must show"),
  createdAt: Time,
  updatedAt: Time,
});
export type DestinationView = z.infer<typeof DestinationView>;
export type GrantView = z.infer<typeof GrantView>;

export const AttemptView = z.strictObject({
  attempt: z.number().int().describe("1 for the first attempt"),
  startedAt: Time.nullable(),
  endedAt: Time.nullable().describe("null while it runs (or when not known)"),
  durationMs: z.number().int().nullable(),
  outcome: z
    .enum(ATTEMPT_OUTCOMES)
    .describe(
      "how the attempt ended; a callback-mode run's attempt `succeeded` once its handler returned, whatever the callback then said",
    ),
  error: z
    .strictObject({
      code: RunErrorCode,
      name: z.string().optional().describe("the thrown error's name (its class)"),
      message: z.string(),
      stack: z
        .string()
        .optional()
        .describe(
          `the handler's own stack trace, at most ${ATTEMPT_STACK_FRAMES} frames and ${ATTEMPT_STACK_BYTES} bytes`,
        ),
    })
    .nullable(),
});
export type AttemptView = z.infer<typeof AttemptView>;

export const TaskView = z.strictObject({
  taskId: z.string(),
  tenant: z.string(),
  definition: z.string(),
  queue: z.string().nullable(),
  status: z.enum(RUN_STATUSES),
  attempts: z.number().int(),
  maxAttempts: z.number().int(),
  scheduledFor: Time.nullable(),
  trigger: z.enum(RUN_TRIGGERS).describe("what started the run"),
  origin: z
    .strictObject({
      taskId: z.string(),
      tenant: z.string(),
      via: z
        .string()
        .describe("how: chain:<name>, step:<id>, task:<call key> or replay (a replay of this run)"),
    })
    .nullable()
    .describe("the run that started this one (null when the API or a schedule did)"),
  root: z
    .strictObject({ taskId: z.string(), tenant: z.string() })
    .describe("the first run of this run's tree (itself for a run nothing started)"),
  depth: z.number().int().describe("how many starts below its root this run is (0 for a root)"),
  replayOf: z.string().nullable().describe("the run this one replays (POST /v1/tasks/{id}/replay), or null"),
  priority: z.number().int().describe("its place in a waiting line: 0-9, higher first, then start order"),
  retryOnTimeout: z.boolean(),
  timeoutSeconds: z.number().int(),
  mode: z.enum(["sync", "callback"]),
  kind: z.enum(["task", "workflow"]),
  /** Only on workflow runs. */
  steps: z
    .array(
      z.strictObject({
        id: z.string(),
        definition: z.string(),
        dependsOn: z.array(z.string()),
        taskId: z.string(),
        status: z.string().describe("the step run's status, or pending before it starts"),
      }),
    )
    .optional(),
  parent: z.strictObject({ taskId: z.string(), step: z.string() }).nullable(),
  chains: z.array(ChainSpec),
  chainOutcomes: z.array(ChainOutcome),
  callbackDeadline: Time.nullable(),
  createdAt: Time,
  updatedAt: Time,
  startedAt: Time.nullable(),
  endedAt: Time.nullable(),
  nextAttemptAt: Time.nullable(),
  cancelRequestedAt: Time.nullable(),
  idempotencyKey: z.string().nullable(),
  createdBy: z.string().describe("id of the API key that started the run"),
  params: JsonObject.describe("the params snapshotted at start; encrypted values show as [encrypted]"),
  output: z.unknown().describe("the handler's result (JSON), or null"),
  error: z.strictObject({ code: RunErrorCode, message: z.string() }).nullable(),
  feedback: z.string().nullable(),
  progress: z.number().min(0).max(1).nullable(),
  subtext: z.string().nullable(),
  logs: z.array(z.strictObject({ at: Time, line: z.string() })),
  logsDropped: z.number().int(),
  attemptHistory: z
    .array(AttemptView)
    .describe(
      "each attempt, oldest first: those that did not succeed with their error (and the handler's stack), then the current or last one",
    ),
});
export type TaskView = z.infer<typeof TaskView>;

const StatusCounts = z
  .strictObject({
    scheduled: z.number().int(),
    waiting: z.number().int(),
    queued: z.number().int(),
    running: z.number().int(),
    awaiting: z.number().int(),
    succeeded: z.number().int(),
    failed: z.number().int(),
    cancelled: z.number().int(),
    timed_out: z.number().int(),
  })
  .describe("runs by their status when counted (a snapshot: a run may move on while it is counted)");

export const TaskCountsView = z.strictObject({
  since: Time.describe("the runs counted are those created at or after this time"),
  total: z.number().int(),
  byStatus: StatusCounts,
  byDefinition: z.array(
    z.strictObject({ definition: z.string(), total: z.number().int(), byStatus: StatusCounts }),
  ),
  complete: z
    .boolean()
    .describe("false when a very busy window was read in part: the counts are lower bounds"),
});
export type TaskCountsView = z.infer<typeof TaskCountsView>;

export const ReadTokenView = z.strictObject({
  token: z.string().describe("send as `Authorization: Bearer <token>` to read this run"),
  expiresAt: Time,
});

export const StartedRunView = z.strictObject({
  taskId: z.string(),
  tenant: z.string().describe("the tenant the run belongs to (another one for a cross-tenant chain)"),
  definition: z
    .string()
    .nullable()
    .describe("null for a run in another tenant: which definition its chain starts is that tenant's own"),
  trigger: z.enum(RUN_TRIGGERS),
  via: z.string().describe("how: chain:<name>, step:<id>, task:<call key> or replay (a replay of this run)"),
  createdAt: Time,
});
export type StartedRunView = z.infer<typeof StartedRunView>;

/**
 * A run as a list shows it: what a table of runs needs, and nothing whose size grows with what
 * the run carries (params, output, logs, chains, steps), so a page of them stays small whatever
 * the runs hold. `GET /v1/tasks/{id}` has the rest.
 */
export const TaskSummaryView = z.strictObject({
  ...TaskView.pick({
    taskId: true,
    definition: true,
    queue: true,
    status: true,
    attempts: true,
    maxAttempts: true,
    scheduledFor: true,
    trigger: true,
    mode: true,
    kind: true,
    parent: true,
    callbackDeadline: true,
    createdAt: true,
    updatedAt: true,
    startedAt: true,
    endedAt: true,
    nextAttemptAt: true,
    cancelRequestedAt: true,
    createdBy: true,
    idempotencyKey: true,
    error: true,
    progress: true,
    subtext: true,
  }).shape,
  feedback: z
    .string()
    .nullable()
    .describe(
      `the newest ${LIMITS.summaryFeedbackChars} characters of the feedback (its last lines); the run has all of it`,
    ),
});
export type TaskSummaryView = z.infer<typeof TaskSummaryView>;

export const StartedTask = z.strictObject({
  taskId: z.string(),
  status: z.enum(RUN_STATUSES),
  idempotentReplay: z
    .literal(true)
    .optional()
    .describe("present when an idempotency key matched an earlier start: nothing new was started"),
  debounced: z
    .literal(true)
    .optional()
    .describe(
      "present on a debounced start: taskId is the run of its key's window, which every start in the window answers",
    ),
  joined: z
    .literal(true)
    .optional()
    .describe(
      "present when the debounced start joined a window an earlier start opened: nothing new was started",
    ),
});
export type StartedTask = z.infer<typeof StartedTask>;

export const CancelledTask = z.strictObject({
  taskId: z.string(),
  status: z.enum(RUN_STATUSES),
  cancelRequested: z.boolean().describe("true for a running run: it stops at its next heartbeat"),
  tree: z
    .strictObject({
      cancelled: z.array(z.string()).describe("descendants this request cancelled (or asked to stop)"),
      complete: z.boolean().describe("false when the request stopped at 1,000 descendants: send it again"),
    })
    .optional()
    .describe("with ?tree=true: what was done below the run"),
});
export type CancelledTask = z.infer<typeof CancelledTask>;

export const StartedBulkView = z.strictObject({
  bulkId: z.string(),
  matched: z
    .number()
    .int()
    .describe(
      "runs the filter matched in the first page (up to the page size); the GET gives the running total",
    ),
  matchedAll: z.boolean().describe("false when more pages may match: `matched` is then a lower bound"),
});
export type StartedBulkView = z.infer<typeof StartedBulkView>;

const ReasonCounts = z.record(z.string(), z.number().int()).describe("runs by reason (snake_case)");

export const BulkView = z.strictObject({
  bulkId: z.string(),
  action: z.enum(BULK_ACTIONS),
  filter: z.strictObject({
    status: z.enum(RUN_STATUSES).optional(),
    definition: z.string().optional(),
    queue: z.string().optional(),
    createdAfter: Time.optional(),
    createdBefore: Time.optional(),
  }),
  dryRun: z.boolean(),
  status: z.enum(BULK_STATUSES).describe("`done` once every page is done; `failed` names its `error`"),
  matched: z.number().int().describe("runs the filter matched in the pages done so far (final once ended)"),
  acted: z.number().int().describe("runs cancelled (or asked to stop) or replayed; 0 for a dry run"),
  skipped: z.strictObject({ count: z.number().int(), reasons: ReasonCounts }),
  failed: z.strictObject({ count: z.number().int(), reasons: ReasonCounts }),
  pages: z.number().int().describe("pages done"),
  createdAt: Time,
  updatedAt: Time,
  endedAt: Time.nullable(),
  error: z.string().nullable(),
});
export type BulkView = z.infer<typeof BulkView>;

const Cursor = z.string().nullable().describe("pass back as `cursor` for the next page; null on the last");

export const TaskPage = z.strictObject({ items: z.array(TaskSummaryView), cursor: Cursor });
export const StartedRunPage = z.strictObject({ items: z.array(StartedRunView), cursor: Cursor });
/** A page may hold fewer definitions than `limit`: it stops before LIMITS.responseBodyBytes. */
export const DefinitionPage = z.strictObject({ items: z.array(DefinitionView), cursor: Cursor });
export const ChainList = z.strictObject({ items: z.array(ChainView) });
export const GrantList = z.strictObject({ items: z.array(GrantView) });
export const DestinationList = z.strictObject({ items: z.array(DestinationView) });
export const KeyList = z.strictObject({ items: z.array(KeyView) });

/** The document served at GET /openapi.json, described only as an object (it is its own schema). */
export const FileLinkView = z.strictObject({ url: z.string().url() });

export const OpenApiDocumentView = z.record(z.string(), z.unknown()).describe("an OpenAPI 3.1 document");
