// A run page's live updates: GET /v1/tasks/{id}/events through an EventSource, polling only when
// the stream cannot be had. EventSource sends no headers, so the page first asks for a read
// token of this one run with the signed-in key; the key itself never goes into a URL.
import { api } from "./api.js";

/** How long the read token for a page's stream lasts; a new one is asked for on reconnecting after it expires. */
const TOKEN_SECONDS = 15 * 60;
/** Events a page applies itself; any other (snapshot, status, attempt, end) reloads the run whole. */
const PATCHED = new Set(["progress", "feedback", "subtext", "log"]);
/** Streams that fail this many times in a row without one event give way to polling. */
const MAX_FAILURES = 3;

/** Where streams are served: the events URL the page names (AWS), else the page's own origin. */
function eventsBase() {
  const named = document.querySelector('meta[name="baton-events-url"]')?.content;
  return named ? new URL(named, document.baseURI) : document.baseURI;
}

/** The run with one event's change applied: what GET /v1/tasks/{id} would now say of those fields. */
export function withEvent(task, event) {
  switch (event.type) {
    case "progress":
      return { ...task, progress: event.progress };
    case "feedback":
      return { ...task, feedback: event.feedback };
    case "subtext":
      return { ...task, subtext: event.subtext };
    case "log":
      return { ...task, logs: [...task.logs, { at: event.at, line: event.line }] };
    default:
      return task;
  }
}

/**
 * Follows a run: `refresh()` loads it whole (at the start, on every snapshot, status change,
 * new attempt and the end), `apply(event)` shows a small change, `poll()` starts polling
 * instead and returns its stop function. Returns a stop function.
 */
export function followTask(taskId, { refresh, apply, poll }) {
  if (typeof EventSource !== "function") return poll();
  let source;
  let stopped = false;
  let stopPolling;
  let failures = 0;
  const fallBack = () => {
    source?.close();
    if (!stopped && stopPolling === undefined) stopPolling = poll();
  };
  const open = async () => {
    let token;
    try {
      ({ token } = await api("POST", `/v1/tasks/${encodeURIComponent(taskId)}/read-token`, {
        body: { seconds: TOKEN_SECONDS },
      }));
    } catch {
      return fallBack();
    }
    if (stopped) return;
    const url = new URL(`v1/tasks/${encodeURIComponent(taskId)}/events`, eventsBase());
    url.searchParams.set("token", token);
    source = new EventSource(url);
    const onEvent = (message) => {
      failures = 0;
      const event = JSON.parse(message.data);
      if (PATCHED.has(event.type)) apply(event);
      else refresh();
      if (event.type === "end") source.close();
    };
    for (const type of ["snapshot", "status", "attempt", "end", ...PATCHED]) {
      source.addEventListener(type, onEvent);
    }
    source.addEventListener("error", () => {
      failures += 1;
      // A stream the server closed (at its maximum duration): the browser reconnects by itself.
      if (source.readyState === EventSource.CONNECTING && failures < MAX_FAILURES) return;
      // Refused (an expired token, a 429 when every stream slot is taken) or failing again and
      // again: ask for a new token and open again, and past MAX_FAILURES poll instead.
      source.close();
      if (failures >= MAX_FAILURES) fallBack();
      else open();
    });
  };
  open();
  return () => {
    stopped = true;
    source?.close();
    stopPolling?.();
  };
}
