/**
 * The v1 API's request and response types, derived from the server's own schemas and presenters
 * so the client cannot drift from them. Type-only imports: nothing of the server is loaded at
 * run time.
 */
import type { z } from "zod";
import type {
  presentBulk,
  presentCancelled,
  presentChain,
  presentDefinition,
  presentGrant,
  presentPrincipal,
  presentRun,
  presentRunSummary,
  presentStarted,
  presentStartedRun,
} from "../../functions/api/present.ts";
import type {
  Health,
  ReadTokenView as ReadTokenViewSchema,
  StartedBulkView as StartedBulkViewSchema,
} from "../../functions/api/responses.ts";
import type {
  BulkTaskBody,
  CallbackBody,
  CreateKeyBody,
  CreateTenantBody,
  ListQuery as ListQuerySchema,
  ListTasksQuery as ListTasksQuerySchema,
  PatchTaskBody,
  PutChainBody,
  PutDefinitionBody,
  ReplayTaskBody,
  StartTaskBody,
} from "../../functions/api/schemas.ts";
import type { KeyView as ServerKeyView } from "../app/identity.ts";
import type { RunStatus as CoreRunStatus } from "../core/run.ts";
import type { Role as CoreRole, Tenant } from "../core/tenant.ts";

// Aliases rather than `export type { … }`: in core these names are values too, and a re-export
// would make the rolled-up declarations promise a value this module does not export at run time.
export type Role = CoreRole;
export type RunStatus = CoreRunStatus;

// Requests: what the schemas accept (z.input: defaults may be left out).
export type CreateTenantRequest = z.input<typeof CreateTenantBody>;
export type CreateKeyRequest = z.input<typeof CreateKeyBody>;
export type PutDefinitionRequest = z.input<typeof PutDefinitionBody>;
export type PutChainRequest = z.input<typeof PutChainBody>;
export type ReplayTaskRequest = z.input<typeof ReplayTaskBody>;
export type BulkTaskRequest = z.input<typeof BulkTaskBody>;
export type StartTaskRequest = z.input<typeof StartTaskBody>;
export type CallbackRequest = z.input<typeof CallbackBody>;
export type PatchTaskRequest = z.input<typeof PatchTaskBody>;
// Queries travel as text; the client takes them typed as the server reads them (z.output).
export type ListTasksQuery = z.output<typeof ListTasksQuerySchema>;
export type ListQuery = z.output<typeof ListQuerySchema>;

// Responses: what the presenters return.
export type TaskView = ReturnType<typeof presentRun>;
/** A run in a list: no params, output, logs, chains or steps (getTask has them). */
export type TaskSummaryView = ReturnType<typeof presentRunSummary>;
export type DefinitionView = ReturnType<typeof presentDefinition>;
export type ChainView = ReturnType<typeof presentChain>;
export type StartTaskResult = ReturnType<typeof presentStarted>;
/** A run that another run started, as that run lists it. */
export type StartedRunView = ReturnType<typeof presentStartedRun>;
export type ReadTokenView = z.infer<typeof ReadTokenViewSchema>;
export type CancelTaskResult = ReturnType<typeof presentCancelled>;
export type StartedBulkView = z.infer<typeof StartedBulkViewSchema>;
/** A bulk action's progress (GET /v1/tasks/bulk/{bulkId}). */
export type BulkView = ReturnType<typeof presentBulk>;
export type Whoami = ReturnType<typeof presentPrincipal>;
export type AccessGrantView = ReturnType<typeof presentGrant>;
export type TenantView = Tenant;
/** GET /health when every dependency answered; otherwise the call fails with status 503. */
export type HealthView = Health;
export type KeyView = ServerKeyView;
export type { IssuedKey } from "../app/identity.ts";

/** One page of a list; pass `cursor` back for the next page (null: this was the last). */
export interface Page<T> {
  items: T[];
  cursor: string | null;
}

export interface Items<T> {
  items: T[];
}

// A record, not a list, so the compiler insists on every status the server has, and no other.
const EVERY_STATUS: Record<RunStatus, true> = {
  scheduled: true,
  waiting: true,
  queued: true,
  running: true,
  awaiting: true,
  succeeded: true,
  failed: true,
  cancelled: true,
  timed_out: true,
};
/** Every run status, e.g. for a status filter. */
export const RUN_STATUS_NAMES = Object.keys(EVERY_STATUS) as RunStatus[];

/** Statuses after which a run never changes again. */
export const TERMINAL_STATUSES = [
  "succeeded",
  "failed",
  "cancelled",
  "timed_out",
] as const satisfies readonly RunStatus[];
export type TerminalStatus = (typeof TERMINAL_STATUSES)[number];

export function isTerminalStatus(status: string): status is TerminalStatus {
  return (TERMINAL_STATUSES as readonly string[]).includes(status);
}
