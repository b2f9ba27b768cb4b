/**
 * Watching a run for its live events (GET /v1/tasks/{id}/events): read the run every `pollMs`
 * (one strongly consistent GetItem each), write what changed as Server-Sent Events, and stop when
 * the run ends, the watcher goes away or the stream reaches its deadline. The caller has already
 * decided the watcher may read the run.
 */

import type { RunRef } from "../core/run.ts";
import { numberedEventsBetween, openingEvents, sseComment, sseFrame, sseRetry } from "../core/run-events.ts";
import type { Services } from "./services.ts";

/** How often a stream reads its run: the stream's latency (half of it on average) and its cost. */
export const EVENTS_POLL_MS = 500;
/** A comment this often when nothing else was sent, so no proxy or load balancer closes an idle stream. */
export const EVENTS_KEEPALIVE_MS = 15_000;
/**
 * The longest a stream stays open; then it closes and the client reconnects (a snapshot first).
 * On AWS a stream holds a Lambda for as long as it is open, and a client that went away is not
 * always noticed: this bounds what a forgotten tab costs.
 */
export const EVENTS_MAX_STREAM_MS = 5 * 60_000;

export interface WatchOptions {
  /** The log position the watcher has seen (`Last-Event-ID`); undefined for a new watcher. */
  seenLogs?: number;
  /** When the stream closes even if the run has not ended. */
  deadline: Date;
  /** Aborted when the watcher has gone away. */
  signal: AbortSignal;
  pollMs?: number;
  keepaliveMs?: number;
}

/** Why a stream closed. */
export type WatchEnd = "ended" | "deadline" | "closed" | "gone";

export async function watchRun(
  svc: Services,
  ref: RunRef,
  options: WatchOptions,
  write: (text: string) => Promise<void>,
): Promise<WatchEnd> {
  const pollMs = options.pollMs ?? EVENTS_POLL_MS;
  const keepaliveMs = options.keepaliveMs ?? EVENTS_KEEPALIVE_MS;
  const { signal } = options;
  let run = await svc.runs.get(ref);
  if (run === undefined) {
    await write(sseComment("the run no longer exists"));
    return "gone";
  }
  const now = () => svc.clock.now().getTime();
  let lastWrite = now();
  const send = async (text: string) => {
    await write(text);
    lastWrite = now();
  };
  let frames = sseRetry();
  let ended = false;
  for (const { event, id } of openingEvents(run, options.seenLogs)) {
    frames += sseFrame(event, id);
    ended ||= event.type === "end";
  }
  await send(frames);
  if (ended) return "ended";
  for (;;) {
    await sleep(pollMs, signal);
    if (signal.aborted) return "closed";
    if (now() >= options.deadline.getTime()) {
      await write(sseComment("this stream reached its maximum duration; reconnect for a new snapshot"));
      return "deadline";
    }
    const next = await svc.runs.get(ref);
    if (next === undefined) {
      await write(sseComment("the run no longer exists"));
      return "gone";
    }
    const events = numberedEventsBetween(run, next);
    run = next;
    if (events.length > 0) {
      await send(events.map(({ event, id }) => sseFrame(event, id)).join(""));
      if (events.some(({ event }) => event.type === "end")) return "ended";
    } else if (now() - lastWrite >= keepaliveMs) {
      await send(sseComment("keepalive"));
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
