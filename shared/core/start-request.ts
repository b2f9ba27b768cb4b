/**
 * What a start asks for, as checked at every trust boundary that can start a run: the API's
 * POST /v1/tasks body and a handler's `ctx.tasks.start`. One schema, so both refuse the same
 * input with the same message.
 */
import { z } from "zod";
import { DebounceRequest } from "./debounce.ts";
import { LIMITS } from "./limits.ts";
import { Name } from "./names.ts";
import { Priority } from "./priority.ts";

export const StartRequest = z.strictObject({
  definition: Name,
  params: z.record(z.string(), z.unknown()).optional(),
  queue: Name.optional(),
  idempotencyKey: z.string().min(1).max(LIMITS.idempotencyKeyChars).optional(),
  at: z.iso
    .datetime({ offset: true, message: "must be an ISO 8601 time with a zone, e.g. 2026-05-01T09:00:00Z" })
    .optional(),
  after: z.number().int().min(0).max(LIMITS.maxDelayMs).optional(),
  /** 0–9, higher first in a waiting line (default: the definition's, else 0); not with `queue`. */
  priority: Priority.optional(),
  /** Collapse starts with the same key inside a window into one run (shared/core/debounce.ts). */
  debounce: DebounceRequest.optional(),
  /** One chain spec or a list; checked in full by the start (shared/core/chain.ts). */
  chain: z
    .union([z.record(z.string(), z.unknown()), z.array(z.record(z.string(), z.unknown())).max(10)])
    .optional(),
});
export type StartRequest = z.infer<typeof StartRequest>;
