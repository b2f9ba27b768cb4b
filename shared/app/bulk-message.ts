/**
 * The SQS body of a bulk's page message. It travels on the fair run queue beside run messages;
 * `kind: "bulk"` tells it apart (a run message has no `kind`, and a bulk body has no `runId`, so a
 * worker that knows only run messages drops it as unreadable rather than misreading it).
 */
import { z } from "zod";
import type { BulkPageMessage } from "../core/ports.ts";

export const BulkPageBody = z.strictObject({
  v: z.literal(1),
  kind: z.literal("bulk"),
  tenant: z.string().min(1),
  bulkId: z.string().min(1),
  page: z.number().int().min(0),
});
export type BulkPageBody = z.infer<typeof BulkPageBody>;

export function bulkPageBody(message: BulkPageMessage): BulkPageBody {
  return { v: 1, kind: "bulk", tenant: message.tenant, bulkId: message.bulkId, page: message.page };
}

/** The page message in a body, or undefined when the body is not one (a run message, garbage). */
export function parseBulkPageMessage(body: string): BulkPageMessage | undefined {
  try {
    const parsed = BulkPageBody.safeParse(JSON.parse(body));
    return parsed.success
      ? { tenant: parsed.data.tenant, bulkId: parsed.data.bulkId, page: parsed.data.page }
      : undefined;
  } catch {
    return undefined;
  }
}
