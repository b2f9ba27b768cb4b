// The start form: a definition, its params as JSON (prefilled with the definition's defaults), and
// optionally a queue, a delay or a time.
import { api, listAll } from "./api.js";
import { announce, errorBox, fill, h } from "./dom.js";
import { flashOnList } from "./tasks.js";

export function renderStart(main, query) {
  const problem = h("div", { class: "problem" });
  const definitionSelect = h("select", { id: "start-definition", name: "definition", required: true });
  const paramsHint = h(
    "p",
    { id: "start-params-hint", class: "hint" },
    "A JSON object, merged over the definition's default params.",
  );
  const paramsError = h("p", { id: "start-params-error", class: "field-error", hidden: true });
  const params = h("textarea", {
    id: "start-params",
    name: "params",
    rows: "8",
    spellcheck: "false",
    "aria-describedby": "start-params-hint start-params-error",
  });
  const queue = h("input", {
    id: "start-queue",
    name: "queue",
    autocomplete: "off",
    // The name rule of shared/core/names.ts (NAME_CHARS), '-' escaped as the v-flag of `pattern` needs.
    pattern: "[A-Za-z0-9_\\-]{1,64}",
    "aria-describedby": "start-queue-hint",
  });
  const whenNow = h("input", { type: "radio", id: "when-now", name: "when", value: "now", checked: true });
  const whenAfter = h("input", { type: "radio", id: "when-after", name: "when", value: "after" });
  const whenAt = h("input", { type: "radio", id: "when-at", name: "when", value: "at" });
  const afterSeconds = h("input", {
    id: "start-after",
    name: "after",
    type: "number",
    min: "0",
    step: "1",
    inputmode: "numeric",
    "aria-label": "Delay in seconds",
  });
  const at = h("input", {
    id: "start-at",
    name: "at",
    type: "datetime-local",
    step: "1",
    "aria-label": "Start time (your local time)",
  });
  const idempotencyKey = h("input", { id: "start-idempotency", name: "idempotencyKey", autocomplete: "off" });
  const submit = h("button", { type: "submit" }, "Start task");
  let definitions = [];

  const prefill = () => {
    const chosen = definitions.find((definition) => definition.name === definitionSelect.value);
    params.value = JSON.stringify(chosen?.params ?? {}, null, 2);
    setParamsError(null);
  };
  const setParamsError = (message) => {
    paramsError.hidden = message === null;
    paramsError.textContent = message ?? "";
    if (message === null) params.removeAttribute("aria-invalid");
    else params.setAttribute("aria-invalid", "true");
  };
  definitionSelect.addEventListener("change", prefill);

  const form = h(
    "form",
    { class: "start", "aria-describedby": "start-intro", novalidate: true },
    h("div", { class: "field" }, h("label", { for: "start-definition" }, "Definition"), definitionSelect),
    h(
      "div",
      { class: "field" },
      h("label", { for: "start-params" }, "Params"),
      paramsHint,
      params,
      paramsError,
    ),
    h(
      "div",
      { class: "field" },
      h("label", { for: "start-queue" }, "Queue ", h("span", { class: "muted" }, "(optional)")),
      h(
        "p",
        { id: "start-queue-hint", class: "hint" },
        "Runs that name the same queue run one at a time, in order.",
      ),
      queue,
    ),
    h(
      "fieldset",
      {},
      h("legend", {}, "When"),
      h("div", { class: "choice" }, whenNow, h("label", { for: "when-now" }, "Now")),
      h(
        "div",
        { class: "choice" },
        whenAfter,
        h("label", { for: "when-after" }, "After"),
        afterSeconds,
        h("span", {}, "seconds"),
      ),
      h("div", { class: "choice" }, whenAt, h("label", { for: "when-at" }, "At"), at),
    ),
    h(
      "div",
      { class: "field" },
      h(
        "label",
        { for: "start-idempotency" },
        "Idempotency key ",
        h("span", { class: "muted" }, "(optional)"),
      ),
      idempotencyKey,
    ),
    problem,
    h("div", { class: "actions" }, submit),
  );
  afterSeconds.addEventListener("focus", () => {
    whenAfter.checked = true;
  });
  at.addEventListener("focus", () => {
    whenAt.checked = true;
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    problem.replaceChildren();
    let parsed;
    try {
      parsed = params.value.trim() === "" ? {} : JSON.parse(params.value);
    } catch (error) {
      setParamsError(`Params are not valid JSON: ${error.message}`);
      params.focus();
      return;
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      setParamsError('Params must be a JSON object, like {"name": "Ada"}.');
      params.focus();
      return;
    }
    setParamsError(null);
    const body = { definition: definitionSelect.value, params: parsed };
    if (queue.value.trim() !== "") body.queue = queue.value.trim();
    if (idempotencyKey.value.trim() !== "") body.idempotencyKey = idempotencyKey.value.trim();
    if (whenAfter.checked) {
      const seconds = Number(afterSeconds.value);
      if (afterSeconds.value === "" || !Number.isFinite(seconds) || seconds < 0) {
        fill(problem, errorBox({ message: "Enter the delay as a number of seconds." }, "Check the form"));
        afterSeconds.focus();
        return;
      }
      body.after = Math.round(seconds * 1000);
    }
    if (whenAt.checked) {
      const time = new Date(at.value);
      if (at.value === "" || Number.isNaN(time.getTime())) {
        fill(problem, errorBox({ message: "Choose the date and time to start at." }, "Check the form"));
        at.focus();
        return;
      }
      body.at = time.toISOString();
    }
    submit.disabled = true;
    try {
      const started = await api("POST", "/v1/tasks", { body });
      flashOnList(
        h(
          "p",
          { class: "flash", role: "status" },
          `Started ${body.definition} (${started.status}${started.idempotentReplay ? ", an earlier start with this idempotency key" : ""}): `,
          h("a", { href: `#/tasks/${encodeURIComponent(started.taskId)}` }, started.taskId),
        ),
      );
      location.hash = "#/tasks";
      announce(`Started ${body.definition}, task ${started.taskId}, ${started.status}`);
    } catch (error) {
      fill(problem, errorBox(error, "The task was not started"));
      problem.querySelector("[role=alert]")?.focus?.();
    } finally {
      submit.disabled = false;
    }
  });

  fill(
    main,
    h("h1", {}, "Start a task"),
    h("p", { id: "start-intro", class: "muted" }, "Only registered definitions can be started."),
    form,
  );

  listAll("/v1/definitions").then(
    (items) => {
      definitions = items;
      if (items.length === 0) {
        fill(
          problem,
          errorBox(
            {
              message:
                "There are no definitions yet; an admin registers them with PUT /v1/definitions/{name}.",
            },
            "Nothing to start",
          ),
        );
        submit.disabled = true;
        return;
      }
      fill(
        definitionSelect,
        items.map((definition) => h("option", { value: definition.name }, definition.name)),
      );
      const wanted = query.get("definition");
      if (wanted && items.some((definition) => definition.name === wanted)) definitionSelect.value = wanted;
      prefill();
    },
    (error) => fill(problem, errorBox(error, "Could not load the definitions")),
  );
  return () => undefined;
}
