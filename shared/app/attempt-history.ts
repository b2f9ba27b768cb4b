/** A run's attempts as its page shows them: its attempt records (read only when it may have any) and its last attempt. */
import { type Attempt, attemptHistoryOf, mayHaveAttemptRecords } from "../core/attempts.ts";
import type { Run } from "../core/run.ts";
import type { Services } from "./services.ts";

/**
 * Every attempt of a run the caller may already read. A run that succeeded on its first attempt
 * (most of them) reads nothing more: it has no records, and its one attempt is derived from it.
 */
export async function attemptHistory(svc: Services, run: Run): Promise<Attempt[]> {
  const records = mayHaveAttemptRecords(run) ? await svc.runs.attemptRecords(run) : [];
  return attemptHistoryOf(run, records);
}
