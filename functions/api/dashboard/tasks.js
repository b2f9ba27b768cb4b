// The task list (live, filtered, paged) under the counts of the last 24 hours; a run's page is run-page.js.
import { api, listAll } from "./api.js";
import { bulkActions } from "./bulk.js";
import {
  announce,
  errorBox,
  fill,
  h,
  lastLine,
  poll,
  progressBar,
  STATUSES,
  statusBadge,
  timeAgo,
} from "./dom.js";

const POLL_MS = 1500;
const PAGE_SIZE = 25;
/** A refresh reads at most this many pages; rows further down stay as they were loaded. */
const MAX_REFRESH_PAGES = 5;
/** The counts cost 80 index queries and a read per unfinished run (docs/dashboard.md#counts): read once a minute, not every poll. */
const COUNTS_EVERY_POLLS = 40;

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
  const counts = h("section", { class: "counts", "aria-labelledby": "counts-title" });
  let countsSerial;
  let polls = 0;
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
    counts,
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
    bulkActions(() => filters),
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

  /** The counts of the last 24 hours by status and by definition, redrawn only when they changed. */
  async function refreshCounts() {
    const answer = await api("GET", "/v1/tasks/counts");
    const serial = JSON.stringify(answer);
    if (serial === countsSerial) return;
    countsSerial = serial;
    fill(counts, countsView(answer));
  }

  return poll(async () => {
    if (polls % COUNTS_EVERY_POLLS === 0) refreshCounts().catch(() => undefined);
    polls += 1;
    try {
      await refresh();
    } catch (error) {
      fill(problem, errorBox(error, "Could not load tasks"));
      throw error;
    }
  }, POLL_MS);
}

/** What each cell is, for the cards a narrow screen shows instead of the table's columns. */
const CELL_LABELS = {
  task: "Task",
  status: "Status",
  progress: "Progress",
  feedback: "Feedback",
  subtext: "Subtext",
  age: "Age",
};

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
    row.replaceChildren(
      ...cells.map(([name]) => h("td", { "data-cell": name, "data-label": CELL_LABELS[name] })),
    );
  }
  cells.forEach(([, key, render], index) => {
    const cell = row.children[index];
    if (cell.dataset.key === key) return;
    cell.dataset.key = key;
    fill(cell, render());
  });
}

/** Counts by status (each a link to the list filtered by it) and by definition, as cards, not a table. */
function countsView(answer) {
  const link = (params, ...content) => h("a", { href: `#/tasks?${new URLSearchParams(params)}` }, ...content);
  return [
    h(
      "h2",
      { id: "counts-title" },
      "Last 24 hours",
      h("span", { class: "muted" }, ` · ${answer.total} tasks${answer.complete ? "" : " or more"}`),
    ),
    h(
      "ul",
      { class: "count-chips" },
      STATUSES.map((status) => {
        const content = [
          h("span", { class: "count-number" }, String(answer.byStatus[status])),
          " ",
          h("span", { class: `count-label status-${status}` }, status.replace("_", " ")),
        ];
        return h("li", { "data-status": status }, link({ status }, ...content));
      }),
    ),
    answer.byDefinition.length === 0
      ? null
      : h(
          "ul",
          { class: "count-definitions" },
          answer.byDefinition.slice(0, 12).map((row) =>
            h(
              "li",
              { "data-definition": row.definition },
              link({ definition: row.definition }, row.definition),
              " ",
              h("span", { class: "count-number" }, String(row.total)),
              " ",
              h(
                "span",
                { class: "muted" },
                STATUSES.filter((status) => row.byStatus[status] > 0)
                  .map((status) => `${row.byStatus[status]} ${status.replace("_", " ")}`)
                  .join(" · "),
              ),
            ),
          ),
        ),
  ];
}
