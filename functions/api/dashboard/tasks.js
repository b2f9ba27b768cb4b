// The task list (live, filtered, paged) and one task's page (live until it ends).
import { ApiError, api, listAll } from "./api.js";
import {
  announce,
  dateTime,
  errorBox,
  fill,
  h,
  jsonBlock,
  lastLine,
  paramValue,
  poll,
  progressBar,
  STATUSES,
  statusBadge,
  TERMINAL,
  timeAgo,
} from "./dom.js";
import { followTask, withEvent } from "./live.js";

const POLL_MS = 1500;
const PAGE_SIZE = 25;
/** A refresh reads at most this many pages; rows further down stay as they were loaded. */
const MAX_REFRESH_PAGES = 5;

/** A message for the next list view (set by the start form). */
let flash;
export function flashOnList(node) {
  flash = node;
}

/** #/tasks?status=&definition= — filters live in the hash, so a reload or a shared link keeps them. */
export function renderTaskList(main, query) {
  const filters = { status: query.get("status") ?? "", definition: query.get("definition") ?? "" };
  let shown = PAGE_SIZE;
  let cursor = null;
  const rows = new Map();
  const lastStatus = new Map();

  const statusSelect = h(
    "select",
    { id: "filter-status", name: "status" },
    h("option", { value: "" }, "Any status"),
    STATUSES.map((status) => h("option", { value: status }, status.replace("_", " "))),
  );
  statusSelect.value = filters.status;
  const definitionSelect = h(
    "select",
    { id: "filter-definition", name: "definition" },
    h("option", { value: "" }, "Any definition"),
  );
  if (filters.definition)
    definitionSelect.append(h("option", { value: filters.definition }, filters.definition));
  definitionSelect.value = filters.definition;
  listAll("/v1/definitions").then(
    (definitions) => {
      for (const { name } of definitions) {
        if (name !== filters.definition) definitionSelect.append(h("option", { value: name }, name));
      }
    },
    () => undefined,
  );

  const tbody = h("tbody");
  const table = h(
    "table",
    { class: "tasks" },
    h("caption", { class: "visually-hidden" }, "Tasks, newest first"),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ["Task", "Status", "Progress", "Feedback", "Subtext", "Age"].map((title) =>
          h("th", { scope: "col" }, title),
        ),
      ),
    ),
    tbody,
  );
  const empty = h("p", { class: "muted empty", hidden: true }, "No tasks match these filters.");
  const problem = h("div", { class: "problem" });
  const updated = h("span", { class: "muted" });
  const loadMore = h("button", { type: "button", class: "secondary", hidden: true }, "Load more");

  const onFilter = () => {
    filters.status = statusSelect.value;
    filters.definition = definitionSelect.value;
    const params = new URLSearchParams();
    if (filters.status) params.set("status", filters.status);
    if (filters.definition) params.set("definition", filters.definition);
    const text = params.toString();
    // replaceState: the hash changes without a hashchange, so the view stays and only the rows update.
    history.replaceState(null, "", `#/tasks${text ? `?${text}` : ""}`);
    shown = PAGE_SIZE;
    rows.clear();
    lastStatus.clear();
    tbody.replaceChildren();
    refresh().catch((error) => fill(problem, errorBox(error, "Could not load tasks")));
  };
  statusSelect.addEventListener("change", onFilter);
  definitionSelect.addEventListener("change", onFilter);

  fill(
    main,
    h(
      "div",
      { class: "title-row" },
      h("h1", {}, "Tasks"),
      h("a", { href: "#/start", class: "button" }, "Start a task"),
    ),
    flash ?? null,
    h(
      "form",
      {
        class: "filters",
        role: "search",
        "aria-label": "Filter tasks",
        onsubmit: (event) => event.preventDefault(),
      },
      h("div", { class: "field" }, h("label", { for: "filter-status" }, "Status"), statusSelect),
      h("div", { class: "field" }, h("label", { for: "filter-definition" }, "Definition"), definitionSelect),
      h("p", { class: "refresh-note" }, updated),
    ),
    problem,
    h("div", { class: "table-wrap" }, table),
    empty,
    h("div", { class: "more" }, loadMore),
  );
  flash = undefined;

  /** Reads the newest `shown` tasks (page by page) and brings the table in line, row by row. */
  async function refresh() {
    const asked = { ...filters };
    const items = [];
    let next;
    let pages = 0;
    do {
      const page = await api("GET", "/v1/tasks", {
        query: {
          status: asked.status,
          definition: asked.definition,
          limit: Math.min(100, shown - items.length),
          cursor: next,
        },
      });
      items.push(...page.items);
      next = page.cursor;
      pages += 1;
    } while (next && items.length < shown && pages < MAX_REFRESH_PAGES);
    // A filter changed while this was in flight: its answer is for the old filters.
    if (asked.status !== filters.status || asked.definition !== filters.definition) return;
    reconcile(items);
    cursor = next ?? null;
    loadMore.hidden = cursor === null;
    empty.hidden = items.length > 0;
    problem.replaceChildren();
    updated.textContent = `Live · updated ${new Date().toLocaleTimeString()}`;
  }

  function reconcile(items) {
    const changes = [];
    const keep = new Set(items.map((task) => task.taskId));
    for (const [id, row] of rows) {
      if (!keep.has(id)) {
        row.remove();
        rows.delete(id);
      }
    }
    let previous = null;
    for (const task of items) {
      let row = rows.get(task.taskId);
      if (row === undefined) {
        row = h("tr", { "data-task-id": task.taskId });
        rows.set(task.taskId, row);
      }
      updateRow(row, task);
      const before = lastStatus.get(task.taskId);
      if (before !== undefined && before !== task.status)
        changes.push(`${task.definition} ${task.taskId}: ${task.status}`);
      lastStatus.set(task.taskId, task.status);
      // Move a row only when it is out of place, so nothing is re-created or re-painted needlessly.
      const wanted = previous === null ? tbody.firstChild : previous.nextSibling;
      if (wanted !== row) tbody.insertBefore(row, wanted);
      previous = row;
    }
    if (changes.length > 0)
      announce(changes.length === 1 ? `Task ${changes[0]}` : `${changes.length} tasks changed status`);
  }

  loadMore.addEventListener("click", async () => {
    loadMore.disabled = true;
    try {
      const page = await api("GET", "/v1/tasks", {
        query: { ...filters, limit: PAGE_SIZE, cursor },
      });
      shown = rows.size + page.items.length;
      const all = [...rows.keys()];
      const known = new Set(all);
      const more = page.items.filter((task) => !known.has(task.taskId));
      for (const task of more) {
        const row = h("tr", { "data-task-id": task.taskId });
        rows.set(task.taskId, row);
        lastStatus.set(task.taskId, task.status);
        updateRow(row, task);
        tbody.append(row);
      }
      cursor = page.cursor ?? null;
      loadMore.hidden = cursor === null;
      announce(`${more.length} more tasks loaded`);
    } catch (error) {
      fill(problem, errorBox(error, "Could not load more tasks"));
    } finally {
      loadMore.disabled = false;
    }
  });

  return poll(async () => {
    try {
      await refresh();
    } catch (error) {
      fill(problem, errorBox(error, "Could not load tasks"));
      throw error;
    }
  }, POLL_MS);
}

/** Updates one row's cells, touching only those whose content changed. */
function updateRow(row, task) {
  const cells = [
    [
      "task",
      `${task.definition}|${task.taskId}`,
      () => [
        h("a", { href: `#/tasks/${encodeURIComponent(task.taskId)}` }, task.definition),
        h("div", { class: "id" }, task.taskId),
      ],
    ],
    ["status", task.status, () => statusBadge(task.status)],
    [
      "progress",
      String(task.progress),
      () => progressBar(task.progress, `Progress of ${task.definition} ${task.taskId}`),
    ],
    ["feedback", task.feedback ?? "", () => lastLine(task.feedback)],
    ["subtext", task.subtext ?? "", () => task.subtext ?? ""],
    ["age", `${task.createdAt}|${Math.floor(Date.now() / 1000)}`, () => timeAgo(task.createdAt)],
  ];
  if (row.children.length !== cells.length) {
    row.replaceChildren(...cells.map(([name]) => h("td", { "data-cell": name })));
  }
  cells.forEach(([, key, render], index) => {
    const cell = row.children[index];
    if (cell.dataset.key === key) return;
    cell.dataset.key = key;
    fill(cell, render());
  });
}

/** #/tasks/{id}: everything about one run, refreshed until it ends. */
export function renderTask(main, taskId) {
  const heading = h("h1", {}, "Task");
  const idLine = h("p", { class: "id" }, taskId);
  const badge = h("span", { class: "badge-slot" });
  const problem = h("div", { class: "problem" });
  const cancelButton = h("button", { type: "button", class: "danger", hidden: true }, "Cancel task…");
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

  fill(
    main,
    h("p", { class: "back" }, h("a", { href: "#/tasks" }, "← All tasks")),
    h(
      "div",
      { class: "title-row" },
      h("div", {}, heading, idLine),
      h("div", { class: "title-actions" }, badge, cancelButton),
    ),
    problem,
    sections,
    dialog,
  );

  let status;
  let stopPolling = () => undefined;
  /** The last section placed in this round of renderSections. */
  let previousSection = null;

  /** One section, re-rendered only when its data changed (so reading or selecting is not disturbed). */
  function section(key, title, data, render) {
    const serial = JSON.stringify(data);
    let part = parts.get(key);
    if (data === undefined) {
      part?.node.remove();
      parts.delete(key);
      return;
    }
    if (part === undefined) {
      const body = h("div", { class: "section-body" });
      const node = h(
        "section",
        { "aria-labelledby": `section-${key}` },
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
    fill(part.body, render(data));
  }

  // What the run started changes only when the run does (a step, a heartbeat of the handler that
  // starts, its chain outcomes, which are recorded without a new updatedAt): read it again only
  // then, not on every poll.
  let startedRuns = [];
  let startedAsOf;

  async function refresh() {
    let task;
    try {
      task = await api("GET", `/v1/tasks/${encodeURIComponent(taskId)}`);
      const asOf = `${task.updatedAt}|${task.chainOutcomes.length}`;
      if (asOf !== startedAsOf) {
        const page = await api("GET", `/v1/tasks/${encodeURIComponent(taskId)}/started`, {
          query: { limit: 100 },
        });
        startedRuns = page.items;
        startedAsOf = asOf;
      }
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
    problem.replaceChildren();
    heading.textContent = task.definition;
    document.title = `${task.definition} · ${task.status} · Baton`;
    if (status !== task.status) {
      if (status !== undefined) announce(`Task is now ${task.status}`);
      status = task.status;
      fill(badge, statusBadge(task.status));
    }
    cancelButton.hidden = TERMINAL.has(task.status);
    if (TERMINAL.has(task.status)) stopPolling();
    current = task;
    renderSections(task, startedRuns);
  }
  let current;

  function renderSections(task, startedRuns) {
    previousSection = null;
    section("summary", "Summary", summaryOf(task), (summary) => summaryList(summary));
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
      if (current === undefined) return;
      current = withEvent(current, event);
      renderSections(current, startedRuns);
    },
    poll: () => poll(refresh, POLL_MS),
  });
  return () => stopPolling();
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
