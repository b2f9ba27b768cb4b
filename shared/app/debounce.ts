/**
 * Debounced starts (shared/core/debounce.ts): a start whose key has an open window joins that
 * window's run instead of creating one. The engine's startRun opens windows (the record is written
 * in the run's create transaction); this decides whether a start joins one, and joins it.
 */
import { trailingDue } from "../core/debounce.ts";
import type { Run } from "../core/run.ts";
import type { Services } from "./services.ts";

export type WindowAnswer =
  /** The start joined the open window: its run (a trailing run now has the start's params). */
  | { kind: "joined"; run: Run }
  /** No window is open: the start opens one, in place of `replaces` (the closed one's run) if any. */
  | { kind: "closed"; replaces?: string };

/**
 * Joins the window of (tenant, definition, key) if it is open. Leading: open until closesAt, and
 * a join only answers the run. Trailing: open while its run is still `scheduled` (not yet started
 * or cancelled), and a join sets the run's params to this start's and moves its due time to
 * delayMs from now (no later than closesAt), in one write conditional on the run still being
 * scheduled and unchanged since read. A join that loses to the due time's start, a cancel or
 * another join reads again: so a start either joins a run that has not started, or opens a new
 * window; it is never lost, and no run starts twice.
 */
export async function joinWindow(
  svc: Services,
  tenant: string,
  definition: string,
  key: string,
  params: Record<string, unknown>,
): Promise<WindowAnswer> {
  for (let round = 0; round < JOIN_ROUNDS; round += 1) {
    const window = await svc.runs.getDebounce(tenant, definition, key);
    if (window === undefined) return { kind: "closed" };
    const run = await svc.runs.get({ tenant, id: window.runId });
    const now = svc.clock.now();
    if (run === undefined) return { kind: "closed", replaces: window.runId };
    if (window.mode === "leading") {
      return now.getTime() < Date.parse(window.closesAt)
        ? { kind: "joined", run }
        : { kind: "closed", replaces: window.runId };
    }
    if (run.status !== "scheduled") return { kind: "closed", replaces: window.runId };
    const joined = await svc.runs.update(
      run,
      { status: "scheduled", attempts: 0, updatedAt: run.updatedAt },
      {
        params,
        scheduledFor: trailingDue(window, now).toISOString(),
        updatedAt: laterThan(run.updatedAt, now),
      },
    );
    if (joined !== undefined) return { kind: "joined", run: joined };
    // The run moved on meanwhile (it started, was cancelled, or another start joined): look again.
  }
  throw new Error(`debounce window "${key}" of definition "${definition}" kept changing`);
}

const JOIN_ROUNDS = 5;

/** `now` as ISO text, at least a millisecond after `since`, so every join changes updatedAt. */
function laterThan(since: string, now: Date): string {
  return new Date(Math.max(now.getTime(), Date.parse(since) + 1)).toISOString();
}
