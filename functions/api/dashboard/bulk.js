// The task list's bulk action: cancel or replay every task the list's filters match. A dry run
// counts them first, and nothing is done until that count is confirmed (POST /v1/tasks/bulk).
import { api } from "./api.js";
import { announce, errorBox, fill, h } from "./dom.js";

const POLL_MS = 1000;
const VERBS = { cancel: "Cancel", replay: "Replay" };

/** A bulk, followed until it ends; `onUpdate` sees each reading. */
async function followBulk(bulkId, onUpdate) {
  for (;;) {
    const bulk = await api("GET", `/v1/tasks/bulk/${encodeURIComponent(bulkId)}`);
    onUpdate(bulk);
    if (bulk.status !== "running") return bulk;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** The filter of a bulk, from the list's own filters (empty ones left out). */
function filterOf(filters) {
  const filter = {};
  if (filters.status) filter.status = filters.status;
  if (filters.definition) filter.definition = filters.definition;
  return filter;
}

function describeFilter(filter) {
  const parts = [];
  if (filter.status) parts.push(`status ${filter.status.replace("_", " ")}`);
  if (filter.definition) parts.push(`definition ${filter.definition}`);
  return parts.length === 0 ? "every task" : `tasks with ${parts.join(" and ")}`;
}

function reasonsText(part) {
  return Object.entries(part.reasons)
    .map(([reason, count]) => `${reason.replaceAll("_", " ")}: ${count}`)
    .join(", ");
}

function resultText(bulk) {
  const verb = bulk.action === "cancel" ? "Cancelled" : "Replayed";
  const lines = [`${verb} ${bulk.acted} of ${bulk.matched} matching tasks.`];
  if (bulk.skipped.count > 0) lines.push(`Skipped ${bulk.skipped.count} (${reasonsText(bulk.skipped)}).`);
  if (bulk.failed.count > 0) lines.push(`Refused ${bulk.failed.count} (${reasonsText(bulk.failed)}).`);
  if (bulk.error) lines.push(`Stopped: ${bulk.error}`);
  return lines.join(" ");
}

/**
 * The "Bulk action" control: choose cancel or replay, see how many tasks the current filters
 * match (a dry run), confirm, and follow the bulk to its end. `currentFilters` is read when the
 * count is asked for, so it always acts on what the list shows.
 */
export function bulkActions(currentFilters) {
  const action = h(
    "select",
    { id: "bulk-action", name: "action" },
    h("option", { value: "cancel" }, "Cancel"),
    h("option", { value: "replay" }, "Replay"),
  );
  const check = h("button", { type: "submit", class: "secondary" }, "Count matching tasks");
  const panel = h("div", { class: "bulk-panel", "aria-live": "polite" });

  let asked;
  const reset = () => {
    asked = undefined;
    check.disabled = false;
    action.disabled = false;
    panel.replaceChildren();
  };

  const count = async (event) => {
    event.preventDefault();
    check.disabled = true;
    action.disabled = true;
    const filter = filterOf(currentFilters());
    asked = { action: action.value, filter };
    const progress = h("p", { class: "muted" }, "Counting…");
    fill(panel, progress);
    try {
      const started = await api("POST", "/v1/tasks/bulk", { body: { ...asked, dryRun: true } });
      const counted = await followBulk(started.bulkId, (bulk) => {
        progress.textContent = `Counting… ${bulk.matched} so far`;
      });
      confirmStep(counted.matched);
    } catch (error) {
      fill(
        panel,
        errorBox(error, "Could not count the tasks"),
        h("button", { type: "button", class: "secondary", onclick: reset }, "Back"),
      );
    }
  };

  const confirmStep = (matched) => {
    const verb = VERBS[asked.action];
    if (matched === 0) {
      fill(
        panel,
        h("p", {}, `No ${describeFilter(asked.filter)} to ${asked.action}.`),
        h("button", { type: "button", class: "secondary", onclick: reset }, "Back"),
      );
      return;
    }
    const confirm = h(
      "button",
      { type: "button", class: asked.action === "cancel" ? "danger" : "", onclick: run },
      `${verb} ${matched} task${matched === 1 ? "" : "s"}`,
    );
    fill(
      panel,
      h(
        "p",
        { role: "alert" },
        `${verb} ${matched} ${describeFilter(asked.filter)}? ${
          asked.action === "cancel"
            ? "Running ones stop at their next heartbeat; ended ones are left as they are."
            : "Each starts again as a new task with its original params."
        }`,
      ),
      h(
        "div",
        { class: "actions" },
        confirm,
        h("button", { type: "button", class: "secondary", onclick: reset }, "Keep them"),
      ),
    );
    confirm.focus();
  };

  const run = async () => {
    const progress = h("p", { class: "muted" }, "Working…");
    fill(panel, progress);
    try {
      const started = await api("POST", "/v1/tasks/bulk", { body: asked });
      const done = await followBulk(started.bulkId, (bulk) => {
        progress.textContent = `Working… ${bulk.acted} of ${bulk.matched} so far`;
      });
      const text = resultText(done);
      fill(
        panel,
        h("p", { class: "bulk-result" }, text),
        h("button", { type: "button", class: "secondary", onclick: reset }, "Done"),
      );
      announce(text);
    } catch (error) {
      fill(
        panel,
        errorBox(error, "The bulk action failed"),
        h("button", { type: "button", class: "secondary", onclick: reset }, "Back"),
      );
    }
  };

  return h(
    "details",
    { class: "bulk" },
    h("summary", {}, "Bulk action"),
    h(
      "form",
      { class: "filters", "aria-label": "Bulk action on the listed tasks", onsubmit: count },
      h("div", { class: "field" }, h("label", { for: "bulk-action" }, "Action"), action),
      check,
    ),
    panel,
  );
}
