// One run's page (#/tasks/{id}): what it is, its timeline and attempts, what it came from and
// what it started, refreshed until it ends. `loadRun` fetches; `renderRun` of the view draws from
// that data alone, so another source (a live event stream) can feed the same view.
import { ApiError, api } from "./api.js";
import {
  announce,
  dateTime,
  errorBox,
  fill,
  h,
  jsonBlock,
  paramValue,
  poll,
  progressBar,
  statusBadge,
  TERMINAL,
} from "./dom.js";
import { followTask, withEvent } from "./live.js";
import { attemptsList, timeline } from "./timeline.js";

const POLL_MS = 1500;

/**
 * Everything the page shows of a run: the run, what it started (read again only when the run
 * changed) and, for a workflow, its step runs (a step's run is read until it has ended).
 */
export async function loadRun(taskId, previous) {
  const task = await api("GET", `/v1/tasks/${encodeURIComponent(taskId)}`);
  // What the run started changes only when the run does (a step, a heartbeat of the handler that
  // starts, its chain outcomes, which are recorded without a new updatedAt), or when it is replayed.
  const asOf = `${task.updatedAt}|${task.chainOutcomes.length}`;
  let startedRuns = previous?.startedRuns ?? [];
  if (asOf !== previous?.startedAsOf) {
    const page = await api("GET", `/v1/tasks/${encodeURIComponent(taskId)}/started`, {
      query: { limit: 100 },
    });
    startedRuns = page.items;
  }
  const stepRuns = { ...(previous?.stepRuns ?? {}) };
  const steps = (task.steps ?? []).filter((step) => step.status !== "pending");
  await Promise.all(
    steps.map(async (step) => {
      const known = stepRuns[step.taskId];
      if (known !== undefined && TERMINAL.has(known.status)) return;
      try {
        stepRuns[step.taskId] = await api("GET", `/v1/tasks/${encodeURIComponent(step.taskId)}`);
      } catch {
        // A step run that cannot be read is left off the timeline; the steps table still names it.
      }
    }),
  );
  return { task, startedRuns, startedAsOf: asOf, stepRuns };
}

/** #/tasks/{id}: everything about one run, refreshed until it ends. */
export function renderTask(main, taskId) {
  const heading = h("h1", {}, "Task");
  const idLine = h("p", { class: "id" }, taskId);
  const badge = h("span", { class: "badge-slot" });
  const problem = h("div", { class: "problem" });
  const cancelButton = h("button", { type: "button", class: "danger", hidden: true }, "Cancel task…");
  const replayButton = h("button", { type: "button", class: "secondary", hidden: true }, "Replay…");
  const sections = h("div", { class: "sections" });
  const parts = new Map();

  const dialog = h(
    "dialog",
    { "aria-labelledby": "cancel-title" },
    h("h2", { id: "cancel-title" }, "Cancel this task?"),
    h("p", {}, "A running task stops at its next heartbeat. This cannot be undone."),
    h(
      "form",
      { method: "dialog", class: "actions" },
      h("button", { value: "keep", class: "secondary", autofocus: true }, "Keep it running"),
      h("button", { value: "cancel", class: "danger" }, "Cancel task"),
    ),
  );
  dialog.addEventListener("close", async () => {
    if (dialog.returnValue !== "cancel") return;
    cancelButton.disabled = true;
    try {
      const answer = await api("POST", `/v1/tasks/${encodeURIComponent(taskId)}/cancel`);
      announce(
        answer.cancelRequested
          ? "Cancel requested; the task stops at its next heartbeat"
          : `Task ${answer.status}`,
      );
      await refresh();
    } catch (error) {
      fill(problem, errorBox(error, "Could not cancel"));
      cancelButton.disabled = false;
    }
  });
  cancelButton.addEventListener("click", () => dialog.showModal());

  const fromFailedStep = h("input", {
    type: "checkbox",
    id: "replay-from-failed-step",
    name: "fromFailedStep",
  });
  const fromFailedStepField = h(
    "p",
    { class: "check", hidden: true },
    fromFailedStep,
    " ",
    h(
      "label",
      { for: "replay-from-failed-step" },
      "Keep the steps that succeeded; run the failed step and those after it",
    ),
  );
  const replayDialog = h(
    "dialog",
    { "aria-labelledby": "replay-title" },
    h("h2", { id: "replay-title" }, "Replay this task?"),
    h(
      "p",
      {},
      "A new run of the same definition starts with this run's params. This run stays as it is; the new one links back to it.",
    ),
    fromFailedStepField,
    h(
      "form",
      { method: "dialog", class: "actions" },
      h("button", { value: "keep", class: "secondary", autofocus: true }, "Don't replay"),
      h("button", { value: "replay" }, "Replay task"),
    ),
  );
  replayDialog.addEventListener("close", async () => {
    if (replayDialog.returnValue !== "replay") return;
    replayButton.disabled = true;
    try {
      const answer = await api("POST", `/v1/tasks/${encodeURIComponent(taskId)}/replay`, {
        body: fromFailedStep.checked && !fromFailedStepField.hidden ? { fromFailedStep: true } : {},
      });
      announce(`Replay started: task ${answer.taskId}`);
      location.hash = `#/tasks/${encodeURIComponent(answer.taskId)}`;
    } catch (error) {
      fill(problem, errorBox(error, "Could not replay"));
    } finally {
      replayButton.disabled = false;
    }
  });
  replayButton.addEventListener("click", () => {
    fromFailedStep.checked = false;
    replayDialog.showModal();
  });

  fill(
    main,
    h("p", { class: "back" }, h("a", { href: "#/tasks" }, "← All tasks")),
    h(
      "div",
      { class: "title-row" },
      h("div", { class: "title-text" }, heading, idLine),
      h("div", { class: "title-actions" }, badge, replayButton, cancelButton),
    ),
    problem,
    sections,
    dialog,
    replayDialog,
  );

  let status;
  let stopPolling = () => undefined;
  /** The last section placed in this round of renderSections. */
  let previousSection = null;
  let data;

  /** One section, re-rendered only when its data changed (so reading or selecting is not disturbed). */
  function section(key, title, sectionData, render) {
    const serial = JSON.stringify(sectionData);
    let part = parts.get(key);
    if (sectionData === undefined) {
      part?.node.remove();
      parts.delete(key);
      return;
    }
    if (part === undefined) {
      const body = h("div", { class: "section-body" });
      const node = h(
        "section",
        { "aria-labelledby": `section-${key}`, "data-section": key },
        h("h2", { id: `section-${key}` }, title),
        body,
      );
      part = { node, body, serial: undefined };
      parts.set(key, part);
    }
    // Sections keep a fixed order whatever appears when; a node is moved only when out of place,
    // since moving it would take the focus from anything inside.
    const wanted = previousSection === null ? sections.firstChild : previousSection.nextSibling;
    if (wanted !== part.node) sections.insertBefore(part.node, wanted);
    previousSection = part.node;
    if (part.serial === serial) return;
    part.serial = serial;
    fill(part.body, render(sectionData));
  }

  async function refresh() {
    try {
      data = await loadRun(taskId, data);
    } catch (error) {
      fill(
        problem,
        errorBox(
          error,
          error instanceof ApiError && error.status === 404 ? "No such task" : "Could not load the task",
        ),
      );
      if (error instanceof ApiError && error.status === 404) stopPolling();
      return;
    }
    renderRun(data);
    if (TERMINAL.has(data.task.status)) stopPolling();
  }

  /** Draws the page from the data alone (see loadRun). */
  function renderRun({ task, startedRuns, stepRuns }) {
    problem.replaceChildren();
    heading.textContent = task.definition;
    document.title = `${task.definition} · ${task.status} · Baton`;
    if (status !== task.status) {
      if (status !== undefined) announce(`Task is now ${task.status}`);
      status = task.status;
      fill(badge, statusBadge(task.status));
    }
    cancelButton.hidden = TERMINAL.has(task.status);
    replayButton.hidden = !TERMINAL.has(task.status);
    fromFailedStepField.hidden = !(task.kind === "workflow" && task.status === "failed");
    renderSections(task, startedRuns, stepRuns);
  }

  function renderSections(task, startedRuns, stepRuns) {
    previousSection = null;
    section("summary", "Summary", summaryOf(task), (summary) => summaryList(summary));
    // The timeline runs to "now" while the run is going: its data includes the time, rounded to a second.
    const now = TERMINAL.has(task.status) ? null : Math.floor(Date.now() / 1000) * 1000;
    const steps = (task.steps ?? []).map((step) => ({ ...step, run: stepRuns[step.taskId] ?? null }));
    section(
      "timeline",
      "Timeline",
      { task: timelineFields(task), steps: timelineSteps(steps), now },
      (view) => timeline(view.task, view.steps, view.now ?? Date.now()),
    );
    section(
      "attempts",
      "Attempts",
      task.kind === "workflow" || task.attemptHistory.length === 0 ? undefined : task.attemptHistory,
      (attempts) => attemptsList(attempts),
    );
    section(
      "progress",
      "Progress",
      { progress: task.progress, subtext: task.subtext },
      ({ progress, subtext }) => [
        progressBar(progress, "Progress"),
        subtext ? h("p", { class: "subtext" }, subtext) : null,
      ],
    );
    section("feedback", "Feedback", task.feedback ?? undefined, (feedback) =>
      h("pre", { class: "feedback", tabindex: "0" }, feedback),
    );
    section("error", "Error", task.error ?? undefined, (error) =>
      h(
        "div",
        { class: "error-box" },
        h("p", {}, h("code", { class: "code" }, error.code)),
        h("p", {}, error.message),
      ),
    );
    section("output", "Output", task.output ?? undefined, (output) => jsonBlock(output, "Output"));
    section("files", "Files", fileNameOf(task), (name) => fileLink(task.taskId, name));
    section("params", "Params", task.params, (params) => paramsTable(params));
    section("steps", "Workflow steps", task.steps, (steps) => stepsTable(steps));
    section("chains", "Chains", task.chains.length > 0 ? task.chains : undefined, (chains) =>
      chainsList(chains),
    );
    section(
      "chain-outcomes",
      "Chain outcomes",
      task.chainOutcomes.length > 0 ? task.chainOutcomes : undefined,
      (outcomes) => outcomesTable(outcomes),
    );
    section("started-runs", "Runs it started", startedRuns.length > 0 ? startedRuns : undefined, (runs) =>
      startedRunsTable(runs, task.tenant),
    );
    section("logs", "Logs", { logs: task.logs, dropped: task.logsDropped }, ({ logs, dropped }) =>
      logList(logs, dropped),
    );
  }

  // Live from the run's event stream; polling only if the stream cannot be had.
  stopPolling = followTask(taskId, {
    refresh,
    apply: (event) => {
      if (data === undefined) return;
      data = { ...data, task: withEvent(data.task, event) };
      renderRun(data);
    },
    poll: () => poll(refresh, POLL_MS),
  });
  return () => stopPolling();
}

/** What the timeline draws of a run (so a poll that changed nothing else does not redraw it). */
function timelineFields(task) {
  return {
    status: task.status,
    kind: task.kind,
    mode: task.mode,
    createdAt: task.createdAt,
    scheduledFor: task.scheduledFor,
    startedAt: task.startedAt,
    endedAt: task.endedAt,
    callbackDeadline: task.callbackDeadline,
    attempts: task.attemptHistory,
  };
}

function timelineSteps(steps) {
  return steps.map((step) => ({
    id: step.id,
    taskId: step.taskId,
    status: step.status,
    run:
      step.run === null
        ? null
        : {
            status: step.run.status,
            createdAt: step.run.createdAt,
            startedAt: step.run.startedAt,
            endedAt: step.run.endedAt,
          },
  }));
}

function summaryOf(task) {
  return [
    ["Status", task.status],
    ["Attempts", `${task.attempts} of ${task.maxAttempts}`],
    ["Queue", task.queue],
    ["Kind", task.kind === "workflow" ? "workflow" : `${task.kind}, ${task.mode}`],
    ["Trigger", task.trigger],
    [
      "Started by run",
      task.origin ? { ...task.origin, own: task.origin.tenant === task.tenant } : null,
      "origin",
    ],
    ["Created", task.createdAt, "time"],
    ["Scheduled for", task.scheduledFor, "time"],
    ["Started", task.startedAt, "time"],
    ["Ended", task.endedAt, "time"],
    ["Next attempt", task.nextAttemptAt, "time"],
    ["Cancel requested", task.cancelRequestedAt, "time"],
    ["Callback deadline", task.callbackDeadline, "time"],
    ["Timeout per attempt", `${task.timeoutSeconds} s`],
    ["Idempotency key", task.idempotencyKey],
    ["Started by key", task.createdBy],
    ["Workflow", task.parent ? `${task.parent.taskId}|${task.parent.step}` : null, "parent"],
    ["Replay of", task.replayOf, "run"],
  ].filter(([, value]) => value !== null && value !== undefined);
}

function summaryList(summary) {
  return h(
    "dl",
    { class: "summary" },
    summary.map(([label, value, type]) =>
      h(
        "div",
        {},
        h("dt", {}, label),
        h(
          "dd",
          {},
          type === "time"
            ? dateTime(value)
            : type === "parent"
              ? parentLink(value)
              : type === "origin"
                ? originLink(value)
                : type === "run"
                  ? h("a", { href: `#/tasks/${encodeURIComponent(value)}` }, value)
                  : label === "Status"
                    ? statusBadge(value)
                    : value,
        ),
      ),
    ),
  );
}

function parentLink(value) {
  const [taskId, step] = value.split("|");
  return [h("a", { href: `#/tasks/${encodeURIComponent(taskId)}` }, taskId), ` (step ${step})`];
}

/** The run that started this one: a link when it is in this run's tenant, else named. */
function originLink(origin) {
  const target = origin.own
    ? h("a", { href: `#/tasks/${encodeURIComponent(origin.taskId)}` }, origin.taskId)
    : origin.taskId;
  return [target, ` (${origin.via}${origin.own ? "" : `, tenant ${origin.tenant}`})`];
}

/** Runs this run started; those of another tenant (a chain's hop) are named, not linked. */
function startedRunsTable(runs, tenant) {
  return h(
    "table",
    { class: "list" },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ["Task", "Definition", "How", "Tenant", "Created"].map((c) => h("th", {}, c)),
      ),
    ),
    h(
      "tbody",
      {},
      runs.map((run) =>
        h(
          "tr",
          {},
          h(
            "td",
            {},
            run.tenant === tenant
              ? h("a", { href: `#/tasks/${encodeURIComponent(run.taskId)}` }, run.taskId)
              : run.taskId,
          ),
          h("td", {}, run.definition ?? "—"),
          h("td", {}, run.via),
          h("td", {}, run.tenant),
          h("td", {}, dateTime(run.createdAt)),
        ),
      ),
    ),
  );
}

/** The file a task wrote, named by its standard output `FileName`. */
function fileNameOf(task) {
  const name = task.output?.FileName;
  return typeof name === "string" ? name : undefined;
}

/**
 * A file link: the API hands out a short-lived presigned link for the key in the Authorization
 * header, which a plain <a href> cannot send; so the click asks for the link and then follows it.
 */
function fileLink(taskId, name) {
  const status = h("span", { class: "muted", role: "status" });
  const button = h(
    "button",
    {
      type: "button",
      class: "link",
      onclick: async () => {
        button.disabled = true;
        status.textContent = "Preparing download…";
        try {
          const { url } = await api(
            "GET",
            `/v1/tasks/${encodeURIComponent(taskId)}/files/${encodeURIComponent(name)}/link`,
          );
          // A new tab, so the dashboard stays put: S3 answers with Content-Disposition: attachment
          // and the tab becomes a download, but a store that ignores it (the local S3 emulator)
          // shows the file there. Still within the click's user activation, so no popup blocker.
          window.open(url, "_blank", "noopener");
          status.textContent = `Opened the download link of ${name} (valid for 5 minutes)`;
        } catch (error) {
          status.replaceChildren(errorBox(error, "Could not download"));
        } finally {
          button.disabled = false;
        }
      },
    },
    `Download ${name}`,
  );
  return h("p", {}, button, " ", status);
}

function paramsTable(params) {
  const entries = Object.entries(params);
  if (entries.length === 0) return h("p", { class: "muted" }, "No params.");
  return h(
    "table",
    { class: "kv" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Name"), h("th", { scope: "col" }, "Value"))),
    h(
      "tbody",
      {},
      entries.map(([name, value]) =>
        h("tr", {}, h("th", { scope: "row" }, name), h("td", {}, paramValue(value))),
      ),
    ),
  );
}

function stepsTable(steps) {
  return h(
    "table",
    {},
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ["Step", "Definition", "Depends on", "Status", "Task"].map((title) =>
          h("th", { scope: "col" }, title),
        ),
      ),
    ),
    h(
      "tbody",
      {},
      steps.map((step) =>
        h(
          "tr",
          {},
          h("th", { scope: "row" }, step.id),
          h("td", {}, step.definition),
          h("td", {}, step.dependsOn.join(", ") || "—"),
          h(
            "td",
            {},
            step.status === "pending" ? h("span", { class: "badge" }, "pending") : statusBadge(step.status),
          ),
          h(
            "td",
            {},
            step.status === "pending"
              ? "—"
              : h("a", { href: `#/tasks/${encodeURIComponent(step.taskId)}` }, step.taskId),
          ),
        ),
      ),
    ),
  );
}

function chainsList(chains) {
  return h(
    "ul",
    { class: "chains" },
    chains.map((chain) =>
      h(
        "li",
        {},
        h("strong", {}, chain.name),
        chain.customerId ? ` in tenant ${chain.customerId}` : "",
        Array.isArray(chain.params) && chain.params.length > 0
          ? h(
              "table",
              { class: "kv" },
              h(
                "tbody",
                {},
                chain.params.map((param) =>
                  h("tr", {}, h("th", { scope: "row" }, param.name), h("td", {}, paramValue(param.value))),
                ),
              ),
            )
          : null,
      ),
    ),
  );
}

function outcomesTable(outcomes) {
  return h(
    "table",
    {},
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ["Chain", "Tenant", "Outcome", "Started task"].map((title) => h("th", { scope: "col" }, title)),
      ),
    ),
    h(
      "tbody",
      {},
      outcomes.map((outcome) =>
        h(
          "tr",
          {},
          h("th", { scope: "row" }, outcome.name),
          h("td", {}, outcome.customerId),
          h(
            "td",
            {},
            outcome.status === "started"
              ? h("span", { class: "badge status-succeeded" }, "started")
              : [
                  h("span", { class: "badge status-failed" }, "failed"),
                  " ",
                  h("code", {}, outcome.error?.code ?? ""),
                  " ",
                  outcome.error?.message ?? "",
                ],
          ),
          h(
            "td",
            {},
            outcome.childTaskId
              ? h("a", { href: `#/tasks/${encodeURIComponent(outcome.childTaskId)}` }, outcome.childTaskId)
              : "—",
          ),
        ),
      ),
    ),
  );
}

function logList(logs, dropped) {
  if (logs.length === 0) return h("p", { class: "muted" }, "No log lines.");
  return [
    dropped > 0 ? h("p", { class: "muted" }, `${dropped} older lines were dropped.`) : null,
    h(
      "ol",
      { class: "logs", tabindex: "0", "aria-label": "Log lines" },
      logs.map((entry) =>
        h("li", {}, h("time", { datetime: entry.at }, entry.at.slice(11, 23)), " ", entry.line),
      ),
    ),
  ];
}
