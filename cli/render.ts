/** How runs, definitions and lists look to a person (`--json` prints the API's answers instead). */
import type {
  BulkView,
  DefinitionView,
  StartedRunView,
  TaskSummaryView,
  TaskView,
} from "../shared/client/index.ts";

const BAR_WIDTH = 24;

/** How far a run is, 0–1; a succeeded run is done even if it never reported progress. */
function progressOf(task: Pick<TaskView, "progress" | "status">): number | null {
  return task.status === "succeeded" ? 1 : task.progress;
}

/** `42%`, or nothing before the first report. */
function percentOf(task: Pick<TaskView, "progress" | "status">): string {
  const fraction = progressOf(task);
  return fraction === null ? "" : `${Math.round(fraction * 100)}%`;
}

/** `[##########--------------]  42%`. */
export function progressBar(task: Pick<TaskView, "progress" | "status">): string {
  const fraction = progressOf(task);
  if (fraction === null) return `[${"-".repeat(BAR_WIDTH)}]   --%`;
  const filled = Math.round(fraction * BAR_WIDTH);
  const percent = percentOf(task).padStart(4);
  return `[${"#".repeat(filled)}${"-".repeat(BAR_WIDTH - filled)}] ${percent}`;
}

/** The last line of the feedback: appended feedback grows, the newest line is the news. */
export function lastFeedbackLine(feedback: string | null): string | undefined {
  if (feedback === null) return undefined;
  const lines = feedback.split("\n").filter((line) => line.trim() !== "");
  return lines.at(-1);
}

/** "task X has succeeded", "task X is running": a run's status as an English sentence. */
export function statusSentence(taskId: string, status: TaskView["status"]): string {
  const phrases: Record<TaskView["status"], string> = {
    scheduled: "is scheduled",
    waiting: "is waiting for a free slot",
    queued: "is queued",
    running: "is running",
    awaiting: "is awaiting its callback",
    succeeded: "has succeeded",
    failed: "has failed",
    cancelled: "was cancelled",
    timed_out: "has timed out",
  };
  return `task ${taskId} ${phrases[status]}`;
}

/**
 * Where the run is in its attempts: `attempt 2 of 3`, and while it waits for a retry, which
 * attempt failed and why. Nothing before the first attempt.
 */
export function attemptsNote(
  task: Pick<TaskView, "attempts" | "maxAttempts" | "status" | "error" | "nextAttemptAt">,
): string | undefined {
  if (task.attempts === 0) return undefined;
  const count = `attempt ${task.attempts} of ${task.maxAttempts}`;
  const retrying = (task.status === "queued" || task.status === "waiting") && task.error !== null;
  if (!retrying || task.error === null) return count;
  const when = task.nextAttemptAt === null ? "" : ` at ${task.nextAttemptAt.slice(11, 19)}`;
  return `${count} failed (${task.error.code}: ${task.error.message}); retrying${when}`;
}

/** One line for the watch view: bar, status, attempts (and a pending retry), newest feedback, subtext. */
export function watchLine(task: TaskView): string {
  const parts = [progressBar(task), task.status.padEnd(9)];
  const attempts = attemptsNote(task);
  if (attempts !== undefined) parts.push(attempts);
  const feedback = lastFeedbackLine(task.feedback);
  if (feedback !== undefined) parts.push(feedback);
  if (task.subtext !== null) parts.push(`— ${task.subtext}`);
  return parts.join("  ").trimEnd();
}

/** What a finished run came to, in one or two lines. */
export function endSummary(task: TaskView): string {
  const took =
    task.startedAt !== null && task.endedAt !== null
      ? ` in ${formatSeconds(Date.parse(task.endedAt) - Date.parse(task.startedAt))}`
      : "";
  const attempts = task.attempts > 1 ? ` after ${task.attempts} attempts` : "";
  const head = `${statusSentence(task.taskId, task.status)}${took}${attempts}`;
  if (task.status === "succeeded") {
    return task.output === null ? head : `${head}\noutput: ${JSON.stringify(task.output)}`;
  }
  return task.error === null ? head : `${head}: ${task.error.code}: ${task.error.message}`;
}

export function taskDetails(task: TaskView, started: StartedRunView[] = []): string {
  const rows: Array<[string, string | undefined]> = [
    ["task", task.taskId],
    ["definition", task.definition],
    ["status", task.status],
    ["trigger", task.trigger],
    [
      "origin",
      task.origin === null ? undefined : `${task.origin.tenant}/${task.origin.taskId} (${task.origin.via})`,
    ],
    ["progress", task.progress === null ? undefined : progressBar(task)],
    ["attempts", `${task.attempts} of ${task.maxAttempts}`],
    ["queue", task.queue ?? undefined],
    ["mode", task.mode === "sync" ? undefined : task.mode],
    ["scheduled for", task.scheduledFor ?? undefined],
    ["created", task.createdAt],
    ["started", task.startedAt ?? undefined],
    ["ended", task.endedAt ?? undefined],
    ["callback by", task.status === "awaiting" ? (task.callbackDeadline ?? undefined) : undefined],
    ["steps", task.steps?.map((step) => `${step.id} ${step.status}`).join(", ")],
    ["subtext", task.subtext ?? undefined],
    ["feedback", task.feedback ?? undefined],
    ["error", task.error === null ? undefined : `${task.error.code}: ${task.error.message}`],
    ["output", task.output === null ? undefined : JSON.stringify(task.output)],
    ["params", JSON.stringify(task.params)],
    ["logs", task.logs.length === 0 ? undefined : `${task.logs.length} lines (baton logs ${task.taskId})`],
    [
      "started runs",
      started.length === 0
        ? undefined
        : started
            .map((run) =>
              [`${run.tenant}/${run.taskId}`, run.definition, `(${run.via})`].filter(Boolean).join(" "),
            )
            .join("\n"),
    ],
  ];
  const shown = rows.filter((row): row is [string, string] => row[1] !== undefined);
  const width = Math.max(...shown.map(([label]) => label.length));
  return shown
    .map(
      ([label, value]) =>
        `${`${label}:`.padEnd(width + 2)}${value.replaceAll("\n", `\n${" ".repeat(width + 2)}`)}`,
    )
    .join("\n");
}

export function taskTable(tasks: TaskSummaryView[]): string {
  return table(
    ["TASK", "DEFINITION", "STATUS", "PROGRESS", "CREATED"],
    tasks.map((task) => [task.taskId, task.definition, task.status, percentOf(task), task.createdAt]),
  );
}

export function definitionTable(definitions: DefinitionView[]): string {
  return table(
    ["NAME", "HANDLER", "LIMITS", "DESCRIPTION"],
    definitions.map((definition) => [
      definition.name,
      definition.kind === "workflow"
        ? `workflow (${definition.steps?.length ?? 0} steps)`
        : definition.handler,
      [
        definition.maxConcurrency === undefined ? undefined : `concurrency ${definition.maxConcurrency}`,
        definition.maxQueueLength === undefined ? undefined : `queue ${definition.maxQueueLength}`,
        definition.mode === "callback" ? "callback" : undefined,
        definition.schedule === undefined ? undefined : `cron ${definition.schedule.cron}`,
      ]
        .filter((part) => part !== undefined)
        .join(", "),
      definition.description ?? "",
    ]),
  );
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? "").length)),
  );
  return [header, ...rows]
    .map((row) =>
      row
        .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

function formatSeconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}

/** A bulk action in one line: where it stands and what it did, with reasons when any run was left. */
export function bulkSummary(bulk: BulkView): string {
  const verb = bulk.dryRun ? "would act on" : bulk.action === "cancel" ? "cancelled" : "replayed";
  const done = bulk.dryRun ? bulk.matched : bulk.acted;
  const reasons = (label: string, part: BulkView["skipped"]) =>
    part.count === 0
      ? []
      : [
          `${label} ${part.count} (${Object.entries(part.reasons)
            .map(([reason, count]) => `${reason}: ${count}`)
            .join(", ")})`,
        ];
  return [
    `bulk ${bulk.bulkId} ${bulk.status}: matched ${bulk.matched}, ${verb} ${done}`,
    ...reasons("skipped", bulk.skipped),
    ...reasons("failed", bulk.failed),
    ...(bulk.error === null ? [] : [`error: ${bulk.error}`]),
  ].join("; ");
}
