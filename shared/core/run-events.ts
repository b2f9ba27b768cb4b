/**
 * A run's live events (GET /v1/tasks/{id}/events): what changed between two reads of the run, as
 * the events a watcher sees, and their Server-Sent Events frames. Pure: the reader decides how
 * often to read.
 *
 * Every frame's `id` is the watcher's position in the run's log lines (how many it has been sent,
 * counting lines the run dropped past its bound), so a client reconnecting with `Last-Event-ID`
 * gets a fresh snapshot and only the log lines it has not seen.
 */

import { isTerminal, type LogLine, type Run, type RunStatus } from "./run.ts";
import type { RunError } from "./run-errors.ts";

export type RunEvent =
  /** The run as it is when the stream opens: always the first event of a stream. */
  | {
      type: "snapshot";
      status: RunStatus;
      attempt: number;
      progress: number | null;
      feedback: string | null;
      subtext: string | null;
    }
  | { type: "status"; status: RunStatus; attempt: number }
  | { type: "attempt"; attempt: number }
  | { type: "progress"; progress: number }
  | { type: "feedback"; feedback: string }
  | { type: "subtext"; subtext: string }
  | { type: "log"; at: string; line: string }
  /** The last event of a stream: the run ended. */
  | { type: "end"; status: RunStatus; output: unknown; error: RunError | null };

/** How long an EventSource waits before it reconnects to a stream that closed (the `retry:` field). */
export const RECONNECT_MS = 1_000;

export function snapshotEvent(run: Run): RunEvent {
  return {
    type: "snapshot",
    status: run.status,
    attempt: run.attempts,
    progress: run.progress ?? null,
    feedback: run.feedback ?? null,
    subtext: run.subtext ?? null,
  };
}

export function endEvent(run: Run): RunEvent {
  return { type: "end", status: run.status, output: run.output ?? null, error: run.error ?? null };
}

/** How many log lines the run has had, dropped ones included: the position after its newest line. */
export function logCursorOf(run: Run): number {
  return (run.logsDropped ?? 0) + run.logs.length;
}

/** The kept log lines after position `cursor`, each with its own position after it. */
function logLinesAfter(run: Run, cursor: number): { line: LogLine; position: number }[] {
  const firstKept = run.logsDropped ?? 0;
  return run.logs
    .map((line, index) => ({ line, position: firstKept + index + 1 }))
    .filter(({ position }) => position > cursor);
}

/** An event with the id its frame carries. */
export interface NumberedEvent {
  event: RunEvent;
  id: number;
}

/**
 * The frames that open a stream: the snapshot, the log lines after `seenLogs` (all kept lines
 * for a new watcher), and the end if the run has already ended.
 */
export function openingEvents(run: Run, seenLogs = 0): NumberedEvent[] {
  const events: NumberedEvent[] = [{ event: snapshotEvent(run), id: Math.min(seenLogs, logCursorOf(run)) }];
  for (const { line, position } of logLinesAfter(run, seenLogs)) {
    events.push({ event: { type: "log", at: line.at, line: line.line }, id: position });
  }
  if (isTerminal(run.status)) events.push({ event: endEvent(run), id: logCursorOf(run) });
  return events;
}

/** The events that take a watcher from `before` to `after` (the same run, read later). */
export function runEventsBetween(before: Run, after: Run): RunEvent[] {
  return numberedEventsBetween(before, after).map(({ event }) => event);
}

/** runEventsBetween with each event's frame id (the log position once it is sent). */
export function numberedEventsBetween(before: Run, after: Run): NumberedEvent[] {
  const seen = logCursorOf(before);
  const events: NumberedEvent[] = [];
  const push = (event: RunEvent) => events.push({ event, id: seen });
  if (after.attempts !== before.attempts) push({ type: "attempt", attempt: after.attempts });
  if (after.status !== before.status && !isTerminal(after.status)) {
    push({ type: "status", status: after.status, attempt: after.attempts });
  }
  if (after.progress !== undefined && after.progress !== before.progress)
    push({ type: "progress", progress: after.progress });
  if (after.feedback !== undefined && after.feedback !== before.feedback)
    push({ type: "feedback", feedback: after.feedback });
  if (after.subtext !== undefined && after.subtext !== before.subtext)
    push({ type: "subtext", subtext: after.subtext });
  for (const { line, position } of logLinesAfter(after, seen)) {
    events.push({ event: { type: "log", at: line.at, line: line.line }, id: position });
  }
  if (isTerminal(after.status) && !isTerminal(before.status)) {
    events.push({ event: endEvent(after), id: logCursorOf(after) });
  }
  return events;
}

/**
 * The log position a reconnecting client names in `Last-Event-ID`: a non-negative integer, or
 * undefined (a new watcher) for anything else, which a client can only have made up.
 */
export function parseLastEventId(header: string | undefined): number | undefined {
  if (header === undefined || !/^\d{1,15}$/.test(header.trim())) return undefined;
  return Number(header.trim());
}

/** One Server-Sent Events frame: the event's type as its name, the event as JSON data (one line). */
export function sseFrame(event: RunEvent, id: number): string {
  return `id: ${id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

/** A comment frame: EventSource ignores it; it keeps idle proxies from closing the connection. */
export function sseComment(text: string): string {
  return `: ${text.replace(/[\r\n]+/g, " ")}\n\n`;
}

/** The frame that tells an EventSource how long to wait before reconnecting. */
export function sseRetry(ms: number = RECONNECT_MS): string {
  return `retry: ${ms}\n\n`;
}
