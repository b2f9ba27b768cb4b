// Admin views, read-only: definitions, chain records and access grants of the caller's tenant.
import { ApiError, listAll } from "./api.js";
import { dateTime, errorBox, fill, h, jsonBlock } from "./dom.js";

const VIEWS = {
  definitions: { title: "Definitions", path: "/v1/definitions", render: definitionsTable },
  chains: { title: "Chains", path: "/v1/chains", render: chainsTable },
  access: { title: "Access grants", path: "/v1/access", render: grantsTable },
};

export function renderAdmin(main, which, session) {
  const view = VIEWS[which] ?? VIEWS.definitions;
  const body = h("div", { "aria-busy": "true" }, h("p", { class: "muted" }, "Loading…"));
  fill(
    main,
    h("h1", {}, "Admin"),
    h(
      "nav",
      { class: "tabs menu", "aria-label": "Admin views" },
      h(
        "ul",
        {},
        Object.entries(VIEWS).map(([name, { title }]) =>
          h(
            "li",
            {},
            h(
              "a",
              {
                href: `#/admin/${name}`,
                "aria-current": view === VIEWS[name] ? "page" : null,
              },
              title,
            ),
          ),
        ),
      ),
    ),
    h("h2", {}, view.title),
    body,
  );
  listAll(view.path).then(
    (items) => {
      body.removeAttribute("aria-busy");
      fill(
        body,
        items.length === 0
          ? h("p", { class: "muted" }, `No ${view.title.toLowerCase()} yet.`)
          : view.render(items),
      );
    },
    (error) => {
      body.removeAttribute("aria-busy");
      if (error instanceof ApiError && error.status === 403) {
        fill(
          body,
          h(
            "div",
            { class: "notice", role: "status" },
            h(
              "p",
              {},
              `${view.title} are for admins. You are signed in with a ${session.role ?? "different"} key.`,
            ),
            h("p", { class: "muted" }, error.message),
          ),
        );
        return;
      }
      fill(body, errorBox(error, `Could not load ${view.title.toLowerCase()}`));
    },
  );
  return () => undefined;
}

function table(headers, rows) {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      {},
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          headers.map((title) => h("th", { scope: "col" }, title)),
        ),
      ),
      h("tbody", {}, rows),
    ),
  );
}

function definitionsTable(definitions) {
  return table(
    ["Name", "Handler", "Limits", "Schedule", "Default params", "Action"],
    definitions.map((definition) => {
      const limits = [
        `${definition.maxAttempts} attempts`,
        `timeout ${definition.timeoutSeconds} s`,
        definition.maxConcurrency === undefined ? null : `max ${definition.maxConcurrency} at once`,
        definition.maxQueueLength === undefined ? null : `queue ≤ ${definition.maxQueueLength}`,
      ].filter(Boolean);
      return h(
        "tr",
        {},
        h(
          "th",
          { scope: "row" },
          definition.name,
          definition.description ? h("div", { class: "muted" }, definition.description) : null,
        ),
        h(
          "td",
          {},
          definition.kind === "workflow"
            ? `workflow of ${definition.steps?.length ?? 0} steps`
            : [h("code", {}, definition.handler), definition.mode === "callback" ? " (callback)" : ""],
        ),
        h("td", {}, limits.join(", ")),
        h(
          "td",
          {},
          definition.schedule
            ? [h("code", {}, definition.schedule.cron), ` ${definition.schedule.timezone}`]
            : "—",
        ),
        h(
          "td",
          {},
          Object.keys(definition.params ?? {}).length === 0
            ? h("span", { class: "muted" }, "none")
            : h(
                "details",
                {},
                h("summary", {}, `${Object.keys(definition.params).length} params`),
                jsonBlock(definition.params, `Default params of ${definition.name}`),
              ),
        ),
        h(
          "td",
          {},
          h(
            "a",
            {
              href: `#/start?definition=${encodeURIComponent(definition.name)}`,
              "aria-label": `Start ${definition.name}`,
            },
            "Start…",
          ),
        ),
      );
    }),
  );
}

function chainsTable(chains) {
  return table(
    ["Name", "Starts definition", "Description", "Updated"],
    chains.map((chain) =>
      h(
        "tr",
        {},
        h("th", { scope: "row" }, chain.name),
        h("td", {}, chain.definition),
        h("td", {}, chain.description ?? ""),
        h("td", {}, dateTime(chain.updatedAt)),
      ),
    ),
  );
}

function grantsTable(grants) {
  return table(
    ["Tenant allowed", "Chain", "Granted"],
    grants.map((grant) =>
      h(
        "tr",
        {},
        h("th", { scope: "row" }, grant.sourceTenant),
        h("td", {}, grant.chain),
        h("td", {}, dateTime(grant.createdAt)),
      ),
    ),
  );
}
