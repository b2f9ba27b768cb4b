/** Request schemas of the v1 API: the trust boundary. Unknown fields are rejected everywhere. */
import { z } from "zod";
import { BULK_ACTIONS, BulkFilter } from "../../shared/core/bulk.ts";
import {
  CredentialText,
  HostKeyFingerprint,
  PrivateKeyText,
  parseDestinationUrl,
} from "../../shared/core/destination.ts";
import { LIMITS } from "../../shared/core/limits.ts";
import { Name, RunId } from "../../shared/core/names.ts";
import { Priority } from "../../shared/core/priority.ts";
import { READ_TOKEN_DEFAULT_SECONDS, READ_TOKEN_MAX_SECONDS } from "../../shared/core/read-token.ts";
import { RUN_STATUSES } from "../../shared/core/run.ts";
import { StartRequest } from "../../shared/core/start-request.ts";
import { Role, TenantId } from "../../shared/core/tenant.ts";
import { MAX_WORKFLOW_STEPS, WorkflowStep } from "../../shared/core/workflow.ts";

const JsonObject = z.record(z.string(), z.unknown());

export const CreateTenantBody = z.strictObject({
  id: TenantId,
  name: z.string().min(1).max(200).optional(),
});

export const CreateKeyBody = z.strictObject({ role: Role });

export const PutDefinitionBody = z.strictObject({
  /** Optional; when given it must equal the name in the path. */
  name: Name.optional(),
  handler: z.string().min(1).max(128).optional(),
  kind: z.enum(["task", "workflow"]).optional(),
  steps: z.array(z.strictObject(WorkflowStep.shape)).max(MAX_WORKFLOW_STEPS).optional(),
  description: z.string().max(1_000).optional(),
  params: JsonObject.optional(),
  maxAttempts: z.number().int().min(1).max(LIMITS.maxAttempts).optional(),
  maxConcurrency: z.number().int().min(1).max(LIMITS.maxConcurrency).optional(),
  maxQueueLength: z.number().int().min(0).max(LIMITS.maxQueueLength).optional(),
  priority: Priority.optional().describe(
    "the priority of its runs in a waiting line when a start gives none (0-9, higher first; default 0)",
  ),
  timeoutSeconds: z
    .number()
    .int()
    .min(1)
    .max(
      LIMITS.maxTimeoutSeconds,
      `must be at most ${LIMITS.maxTimeoutSeconds} s: one attempt must finish inside a 15-minute worker Lambda`,
    )
    .optional(),
  retryOnTimeout: z.boolean().optional(),
  mode: z.enum(["sync", "callback"]).optional(),
  callbackTimeoutSeconds: z.number().int().min(1).max(LIMITS.maxCallbackTimeoutSeconds).optional(),
  schedule: z
    .strictObject({
      cron: z.string().min(1).max(100),
      timezone: z.string().min(1).max(64).default("UTC"),
      params: JsonObject.optional(),
    })
    .optional(),
});

/** The same schema a handler's ctx.tasks.start is checked with. */
export const StartTaskBody = StartRequest;

export const ReplayTaskBody = z.strictObject({
  params: StartRequest.shape.params.describe("params over the original's snapshot"),
  fromFailedStep: z
    .boolean()
    .optional()
    .describe("a failed workflow run: keep the steps that succeeded and run the rest again"),
  idempotencyKey: StartRequest.shape.idempotencyKey,
});

export const BulkTaskBody = z.strictObject({
  action: z.enum(BULK_ACTIONS),
  filter: BulkFilter.describe("the runs to act on; every condition given must hold ({} matches every run)"),
  dryRun: z.boolean().optional().describe("count the matching runs, act on none"),
});

export const BulkId = RunId;

export const ReadTokenBody = z.strictObject({
  seconds: z
    .number()
    .int()
    .min(1)
    .max(READ_TOKEN_MAX_SECONDS)
    .optional()
    .describe(`how long the token reads the run (default ${READ_TOKEN_DEFAULT_SECONDS})`),
});

export const PutChainBody = z.strictObject({
  definition: Name,
  description: z.string().max(1_000).optional(),
});

export const PutDestinationBody = z.strictObject({
  url: z
    .string()
    .max(2_048)
    .superRefine((value, context) => {
      try {
        parseDestinationUrl(value);
      } catch (error) {
        context.addIssue({ code: "custom", message: (error as Error).message.replace(/^url /, "") });
      }
    })
    .describe("ftp://, ftps:// or sftp://, a host, an optional port and folder; no credentials"),
  username: CredentialText(256),
  password: CredentialText(1_024).optional().describe("sealed at rest; never shown again"),
  privateKey: PrivateKeyText.optional().describe(
    "SFTP: an unencrypted OpenSSH or PEM private key; sealed at rest, never shown again",
  ),
  hostKey: HostKeyFingerprint.optional().describe(
    "SFTP: the server's host key fingerprint (ssh-keygen -l); any other key is refused",
  ),
});

export const CallbackBody = z.strictObject({
  taskId: RunId,
  status: z.enum(["SUCCESS", "FAILURE"]).optional(),
  logs: z
    .union([z.string().max(LIMITS.logChars), z.array(z.string().max(LIMITS.logLineChars)).max(1_000)])
    .optional(),
  output: JsonObject.optional(),
  subtext: z.string().max(LIMITS.subtextChars).optional(),
});

export const PatchTaskBody = z.strictObject({ subtext: z.string().max(LIMITS.subtextChars) });

export const FileName = z.string().regex(/^[A-Za-z0-9._-]{1,128}$/, "is not a file name");
export const FileToken = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,2048}\.[A-Za-z0-9_-]{43}$/, "is not a file token");

export const KeyId = z.string().regex(/^[0-9a-f]{12}$/, "is not a key id");

export const TaskId = RunId;

const Limit = z.coerce.number().int().min(1).max(LIMITS.listPageSize).optional();
const Cursor = z.string().min(1).max(1_024).optional();

export const ListTasksQuery = z.strictObject({
  status: z.enum(RUN_STATUSES).optional(),
  definition: Name.optional(),
  limit: Limit,
  cursor: Cursor,
});

export const ListQuery = z.strictObject({ limit: Limit, cursor: Cursor });

export const CountTasksQuery = z.strictObject({
  since: z.iso
    .datetime({ offset: true })
    .optional()
    .describe(
      "ISO 8601 time: count the runs created since then (default: the last 24 h; at most 31 days back)",
    ),
});

export const EventsQuery = z.strictObject({
  token: z
    .string()
    .max(2048)
    .optional()
    .describe(
      "A read token of this run, for a browser's EventSource, which cannot send headers. API keys never go in the URL.",
    ),
});

export const CancelQuery = z.strictObject({
  tree: z
    .enum(["true", "false"])
    .optional()
    .describe("true: also cancel the runs this run started, and theirs, in the caller's tenant"),
});

/** Dashboard asset paths: the version the page was served with, and one of its file names. */
export const DashboardVersion = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "is not a dashboard version");
export const DashboardFile = z.string().regex(/^[A-Za-z0-9._-]{1,128}$/, "is not a dashboard file name");
