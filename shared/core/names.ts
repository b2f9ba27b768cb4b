/**
 * The name rule, written once: the names of definitions, chains and queues, and the ids of
 * workflow steps. Run (task) ids follow the same characters: ULIDs, and the ids derived from them
 * (a step run's `<workflow run id>-<12 hex>`). The dashboard's start form keeps a copy of
 * NAME_CHARS as an HTML `pattern` (functions/api/dashboard/start.js; a browser script cannot
 * import this module), and a test checks the copy.
 */
import { z } from "zod";

/** The characters and length of a name, for regexes that embed one (`@Step.<id>.<key>@`). */
export const NAME_CHARS = "[A-Za-z0-9_-]{1,64}";
export const NAME_PATTERN = new RegExp(`^${NAME_CHARS}$`);

export const Name = z
  .string()
  .regex(NAME_PATTERN, "must be 1-64 characters of letters, digits, '_' or '-' (no spaces)");

/** A run's id as a caller sends it (path, callback body, list cursor). */
export const RunId = z.string().regex(NAME_PATTERN, "is not a task id");
