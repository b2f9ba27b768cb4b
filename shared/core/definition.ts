import { z } from "zod";
import { LIMITS } from "./limits.ts";

export const NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
export const Name = z
  .string()
  .regex(NAME_PATTERN, "must be 1-64 characters of letters, digits, '_' or '-' (no spaces)");

/** A task definition (template): the only thing a start request may name. */
export const TaskDefinition = z.object({
  tenant: z.string(),
  name: Name,
  handler: z.string(),
  description: z.string().optional(),
  /** Default params; a start's params are merged over them and the result is snapshotted on the run. */
  params: z.record(z.string(), z.unknown()),
  maxAttempts: z.number().int().min(1).max(LIMITS.maxAttempts),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type TaskDefinition = z.infer<typeof TaskDefinition>;

export const DEFAULT_MAX_ATTEMPTS = 3;
