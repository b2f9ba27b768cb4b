// Small DOM helpers: elements are built with h(), never from HTML strings, so API data is always text.

/**
 * h("a", {href: "#/x", class: "y"}, "text", child) → an element. Attributes set to null, undefined
 * or false are left out; `on*` functions become listeners; children may be strings, nodes or arrays.
 */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name in element && typeof value !== "string") {
      element[name] = value;
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(element, child);
    else element.append(child instanceof Node ? child : String(child));
  }
}

/** Replaces the children of `element`. */
export function fill(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

export const TERMINAL = new Set(["succeeded", "failed", "cancelled", "timed_out"]);
export const STATUSES = [
  "scheduled",
  "waiting",
  "queued",
  "running",
  "awaiting",
  "succeeded",
  "failed",
  "cancelled",
  "timed_out",
];

/** What the API shows instead of an encrypted param (functions/api/present.ts). */
export const SEALED_PLACEHOLDER = "[encrypted]";

export function statusBadge(status) {
  return h("span", { class: `badge status-${status}` }, status.replace("_", " "));
}

/**
 * A native progress bar (role and values come with the element) with the percentage beside it.
 * Before a task reports progress the bar is empty and says so, rather than animating as if busy.
 */
export function progressBar(fraction, label) {
  const known = typeof fraction === "number";
  const percent = known ? Math.round(fraction * 100) : 0;
  return h(
    "span",
    { class: "progress" },
    h("progress", {
      max: "100",
      value: String(percent),
      "aria-label": label,
      "aria-valuetext": known ? `${percent} %` : "not reported yet",
    }),
    h("span", { class: "percent" }, known ? `${percent} %` : "–"),
  );
}

/** "12 s", "4 min", "3 h", "2 d": how long ago an ISO time was. */
export function age(iso, now = Date.now()) {
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h`;
  return `${Math.floor(seconds / 86_400)} d`;
}

export function timeAgo(iso) {
  return h("time", { datetime: iso, title: new Date(iso).toLocaleString() }, `${age(iso)} ago`);
}

export function dateTime(iso) {
  if (!iso) return h("span", { class: "muted" }, "—");
  return h("time", { datetime: iso, title: iso }, new Date(iso).toLocaleString());
}

export function lastLine(text) {
  if (!text) return "";
  const lines = text.split("\n").filter((line) => line.trim() !== "");
  return lines.at(-1) ?? "";
}

/** Pretty JSON, with every sealed value replaced by a marker that cannot be mistaken for data. */
export function jsonBlock(value, label) {
  const text = JSON.stringify(value, null, 2) ?? "null";
  return h("pre", { class: "json", tabindex: "0", "aria-label": label }, text);
}

/** One value of a params table: encrypted values are shown as such, everything else as JSON. */
export function paramValue(value) {
  if (value === SEALED_PLACEHOLDER) {
    return h(
      "span",
      { class: "sealed", title: "Encrypted at rest; only the task's handler sees it" },
      "•••••• encrypted",
    );
  }
  if (typeof value === "string") return h("code", {}, value);
  return h("code", {}, JSON.stringify(value));
}

/** An error box for an ApiError or any other failure, announced to screen readers. */
export function errorBox(error, title = "Something went wrong") {
  const details = Array.isArray(error?.details) ? error.details : [];
  return h(
    "div",
    { class: "error-box", role: "alert" },
    h("p", {}, h("strong", {}, title), error?.code ? h("code", { class: "code" }, error.code) : null),
    h("p", {}, error?.message ?? String(error)),
    details.length === 0
      ? null
      : h(
          "ul",
          {},
          details.map((detail) =>
            h(
              "li",
              {},
              detail.path ? h("code", {}, detail.path) : null,
              detail.path ? " " : null,
              detail.message,
            ),
          ),
        ),
  );
}

/** Tells screen readers about a change without moving focus. */
export function announce(text) {
  const region = document.getElementById("announcer");
  if (!region) return;
  region.textContent = "";
  // A fresh text node after a tick makes readers speak it even if it repeats the last one.
  setTimeout(() => {
    region.textContent = text;
  }, 50);
}

/** Runs `tick` now and then every `ms` after each run ends (never overlapping); returns a stop function. */
export function poll(tick, ms) {
  let stopped = false;
  let timer;
  const loop = async () => {
    if (stopped) return;
    if (!document.hidden) {
      try {
        await tick();
      } catch {
        // tick shows its own errors; the next round tries again.
      }
    }
    if (!stopped) timer = setTimeout(loop, ms);
  };
  loop();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
