// A run on one time axis (queued, each attempt, awaiting its callback, its end; a workflow's steps)
// and its attempts one by one with their errors and stack traces. Pure functions of the run's data.
import { dateTime, h, statusBadge } from "./dom.js";

/** 12 ms, 1.4 s, 3 min 4 s, 2 h 5 min. */
export function formatDuration(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 60) return `${minutes} min ${Math.round((ms % 60_000) / 1000)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

const time = (iso) => (iso ? Date.parse(iso) : Number.NaN);

/**
 * The timeline's rows: [{kind, label, from, to, href?, title}] in epoch ms. `task` holds the run's
 * times and attemptHistory (as GET /v1/tasks/{id} answers), `steps` a workflow's steps each with
 * its run's times (or null before it started), `now` the end of a run still going.
 */
export function timelineRows(task, steps, now) {
  const rows = [];
  const created = time(task.createdAt);
  const end = Number.isFinite(time(task.endedAt)) ? time(task.endedAt) : now;
  if (task.kind === "workflow") {
    rows.push({ kind: "workflow", label: "Workflow", from: created, to: end });
    for (const step of steps) {
      const run = step.run;
      const from = run === null ? Number.NaN : time(run.startedAt ?? run.createdAt);
      if (!Number.isFinite(from)) {
        rows.push({ kind: "pending", label: `Step ${step.id} · ${step.status}`, from: end, to: end });
        continue;
      }
      const to = Number.isFinite(time(run.endedAt)) ? time(run.endedAt) : now;
      rows.push({
        kind: `step-${run.status}`,
        label: `Step ${step.id} · ${formatDuration(to - from)} · ${run.status}`,
        from,
        to,
        href: `#/tasks/${encodeURIComponent(step.taskId)}`,
      });
    }
  } else {
    const attempts = task.attempts ?? [];
    const due = Number.isFinite(time(task.scheduledFor))
      ? Math.max(created, time(task.scheduledFor))
      : created;
    if (due > created) rows.push({ kind: "scheduled", label: "Scheduled", from: created, to: due });
    const firstStart = attempts.length > 0 ? time(attempts[0].startedAt ?? task.startedAt) : Number.NaN;
    const queuedUntil = Number.isFinite(firstStart) ? firstStart : end;
    rows.push({
      kind: "queued",
      label: `Queued · ${formatDuration(queuedUntil - due)}`,
      from: due,
      to: queuedUntil,
    });
    for (const attempt of attempts) {
      const from = time(attempt.startedAt);
      if (!Number.isFinite(from)) continue;
      const to = Number.isFinite(time(attempt.endedAt))
        ? time(attempt.endedAt)
        : attempt.outcome === "running"
          ? now
          : from;
      const error = attempt.error ? ` · ${attempt.error.code}` : "";
      rows.push({
        kind: `attempt-${attempt.outcome}`,
        label: `Attempt ${attempt.attempt} · ${formatDuration(to - from)} · ${attempt.outcome.replace("_", " ")}${error}`,
        from,
        to,
      });
    }
    const last = attempts[attempts.length - 1];
    const returned = last?.outcome === "succeeded" ? time(last.endedAt) : Number.NaN;
    if (
      task.mode === "callback" &&
      Number.isFinite(returned) &&
      (task.status === "awaiting" || end > returned)
    ) {
      rows.push({
        kind: "awaiting",
        label: `Awaiting callback · ${formatDuration(end - returned)}`,
        from: returned,
        to: end,
      });
    }
  }
  if (Number.isFinite(time(task.endedAt))) {
    rows.push({
      kind: `end-${task.status}`,
      label: `Ended ${task.status.replace("_", " ")}`,
      from: end,
      to: end,
    });
  }
  return rows;
}

/** The timeline: one row per phase, each bar placed on the run's own time axis. */
export function timeline(task, steps, now) {
  const rows = timelineRows(task, steps, now);
  const start = time(task.createdAt);
  const finish = Math.max(start + 1, ...rows.map((row) => row.to));
  const span = finish - start;
  const list = h(
    "ol",
    {
      class: "timeline",
      "aria-label": `Timeline: ${formatDuration(span)} from creation to ${task.endedAt ? "end" : "now"}`,
    },
    rows.map((row) => {
      const bar = h("span", { class: `tl-bar tl-${row.kind}` });
      // CSSOM, not a style attribute: the CSP allows no inline styles.
      bar.style.left = `${(((row.from - start) / span) * 100).toFixed(2)}%`;
      bar.style.width = `${Math.max(0.6, ((row.to - row.from) / span) * 100).toFixed(2)}%`;
      const label = row.href ? h("a", { href: row.href }, row.label) : row.label;
      return h(
        "li",
        { class: "tl-row", "data-kind": row.kind },
        h("span", { class: "tl-label" }, label),
        h(
          "span",
          {
            class: "tl-track",
            title: `${new Date(row.from).toISOString()} → ${new Date(row.to).toISOString()}`,
          },
          bar,
        ),
      );
    }),
  );
  return [
    list,
    h(
      "p",
      { class: "tl-axis muted" },
      h("span", {}, dateTime(task.createdAt)),
      h("span", {}, `+${formatDuration(span)}`),
    ),
  ];
}

/** Each attempt: when, how long, how it ended, and its error with the stack trace behind a disclosure. */
export function attemptsList(attempts) {
  return h(
    "ol",
    { class: "attempts" },
    attempts.map((attempt) =>
      h(
        "li",
        { class: "attempt", "data-attempt": String(attempt.attempt), "data-outcome": attempt.outcome },
        h(
          "p",
          { class: "attempt-head" },
          h("strong", {}, `Attempt ${attempt.attempt}`),
          " ",
          statusBadge(attempt.outcome),
          " ",
          h("span", { class: "muted" }, formatDuration(attempt.durationMs)),
          attempt.startedAt ? [" · ", dateTime(attempt.startedAt)] : null,
        ),
        attempt.error
          ? h(
              "div",
              { class: "attempt-error" },
              h(
                "p",
                {},
                h("code", { class: "code" }, attempt.error.code),
                " ",
                attempt.error.name ? h("strong", {}, `${attempt.error.name}: `) : null,
                attempt.error.message,
              ),
              attempt.error.stack
                ? h(
                    "details",
                    { class: "stack" },
                    h("summary", {}, "Stack trace"),
                    h("pre", { tabindex: "0" }, attempt.error.stack),
                  )
                : null,
            )
          : null,
      ),
    ),
  );
}
