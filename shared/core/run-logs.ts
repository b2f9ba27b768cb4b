import { LIMITS } from "./limits.ts";
import type { LogLine } from "./run.ts";

/**
 * Appends log lines to a run's bounded log: each line is cut at LIMITS.logLineChars, and the
 * oldest lines go (counted in `dropped`) once the total passes LIMITS.logChars.
 */
export function appendLogLines(
  logs: readonly LogLine[],
  dropped: number,
  lines: readonly string[],
  at: Date,
): { logs: LogLine[]; dropped: number } {
  const next = [...logs];
  let chars = next.reduce((sum, entry) => sum + entry.line.length, 0);
  let drops = dropped;
  for (const line of lines) {
    const text = line.length > LIMITS.logLineChars ? `${line.slice(0, LIMITS.logLineChars)}…` : line;
    next.push({ at: at.toISOString(), line: text });
    chars += text.length;
    while (chars > LIMITS.logChars && next.length > 1) {
      chars -= next.shift()?.line.length ?? 0;
      drops += 1;
    }
  }
  return { logs: next, dropped: drops };
}
