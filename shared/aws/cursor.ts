import type { z } from "zod";
import { ValidationError } from "../core/errors.ts";

/** Page cursors are base64url JSON of a position; decoding checks them against a schema. */
export function encodeCursor(position: Record<string, string>): string {
  return Buffer.from(JSON.stringify(position), "utf8").toString("base64url");
}

export function decodeCursor<T>(cursor: string, schema: z.ZodType<T>): T {
  try {
    const parsed = schema.safeParse(JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")));
    if (parsed.success) return parsed.data;
  } catch {
    // fall through to the same error as a cursor of the wrong shape
  }
  throw new ValidationError("cursor is not one this API returned");
}
