/**
 * A run's priority in the waiting lines it may join (its definition's, its tenant's): 0–9, higher
 * first, then start order. Only the order in a line changes: a priority takes no slot, passes no
 * limit and never moves a run into another line (docs/admission.md "Priority").
 */
import { z } from "zod";

export const MAX_PRIORITY = 9;
export const DEFAULT_PRIORITY = 0;

export const Priority = z
  .number()
  .int()
  .min(0)
  .max(MAX_PRIORITY, `must be an integer from 0 to ${MAX_PRIORITY} (higher is promoted first)`);

/**
 * The order of a waiting run in its line, as text that sorts ascending: (9 − priority), then the
 * run's created key (creation time, then id). A priority-9 run sorts before every priority-0 one.
 */
export function lineOrderOf(priority: number | undefined, createdKey: string): string {
  return `${MAX_PRIORITY - (priority ?? DEFAULT_PRIORITY)}#${createdKey}`;
}
