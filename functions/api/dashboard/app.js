// The dashboard's entry: sign-in, the hash router and the header. Views live in their own modules.
import { renderAdmin } from "./admin.js";
import { ApiError, api, forgetKey, storedKey, storeKey } from "./api.js";
import { announce, errorBox, fill, h } from "./dom.js";
import { renderTask } from "./run-page.js";
import { renderStart } from "./start.js";
import { renderTaskList } from "./tasks.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const who = document.getElementById("who");
const whoText = document.getElementById("who-text");

/** Who the stored key belongs to: {tenant, role, keyId} or {role: "operator"}. */
let session;
/** Stops the current view's polling. */
let disposeView = () => undefined;

document.getElementById("sign-out").addEventListener("click", () => {
  forgetKey();
  session = undefined;
  history.replaceState(null, "", location.pathname);
  route();
  announce("Signed out");
});

window.addEventListener("hashchange", () => route({ focus: true }));

/** Set when the stored key was refused mid-session; the sign-in form says so. */
let refusedNotice = false;
window.addEventListener("baton:key-refused", () => {
  forgetKey();
  session = undefined;
  refusedNotice = true;
  route();
  announce("Your key is no longer accepted; sign in again");
});

async function start() {
  if (storedKey()) {
    try {
      session = await api("GET", "/v1/tenant");
    } catch (error) {
      // A refused key has already signed out (the "baton:key-refused" event); show anything else.
      if (!(error instanceof ApiError && error.status === 401))
        fill(main, errorBox(error, "Could not reach Baton"));
      return;
    }
  }
  route();
}

function route({ focus = false } = {}) {
  disposeView();
  disposeView = () => undefined;
  const signedIn = session !== undefined && storedKey() !== null;
  nav.hidden = !signedIn;
  who.hidden = !signedIn;
  if (!signedIn) {
    document.title = "Sign in · Baton";
    renderSignIn();
    return;
  }
  whoText.textContent =
    session.role === "operator" ? "operator (root key)" : `${session.tenant} · ${session.role}`;
  const [path, search = ""] = location.hash.replace(/^#/, "").split("?");
  const query = new URLSearchParams(search);
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const section = parts[0] ?? "tasks";
  for (const link of nav.querySelectorAll("a")) {
    if (link.dataset.nav === section && parts.length <= 1) link.setAttribute("aria-current", "page");
    else if (link.dataset.nav === section) link.setAttribute("aria-current", "true");
    else link.removeAttribute("aria-current");
  }
  if (session.role === "operator") {
    document.title = "Operator · Baton";
    renderOperator();
  } else if (section === "tasks" && parts[1]) {
    disposeView = renderTask(main, parts[1]);
  } else if (section === "start") {
    document.title = "Start a task · Baton";
    disposeView = renderStart(main, query);
  } else if (section === "admin") {
    document.title = "Admin · Baton";
    disposeView = renderAdmin(main, parts[1] ?? "definitions", session);
  } else {
    document.title = "Tasks · Baton";
    disposeView = renderTaskList(main, section === "tasks" ? query : new URLSearchParams());
  }
  // After a navigation, move focus to the new content (what a page load would do for a screen reader).
  if (focus) main.focus();
}

function renderSignIn() {
  const input = h("input", {
    id: "api-key",
    name: "key",
    type: "password",
    autocomplete: "off",
    required: true,
    spellcheck: "false",
    "aria-describedby": "api-key-hint",
  });
  const problem = h("div", { class: "problem" });
  const submit = h("button", { type: "submit" }, "Sign in");
  const form = h(
    "form",
    { class: "sign-in", "aria-labelledby": "sign-in-title" },
    h("h1", { id: "sign-in-title" }, "Sign in to Baton"),
    h("div", { class: "field" }, h("label", { for: "api-key" }, "API key"), input),
    h(
      "p",
      { id: "api-key-hint", class: "hint" },
      "Your tenant's API key. It is kept in this browser tab only (session storage) and forgotten when you sign out or close the tab. Running ",
      h("code", {}, "npm run dev"),
      "? The key of tenant dev is in ",
      h("code", {}, ".baton/dev-key"),
      ".",
    ),
    problem,
    h("div", { class: "actions" }, submit),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const key = input.value.trim();
    if (key === "") {
      fill(problem, errorBox({ message: "Paste an API key first." }, "No key"));
      input.focus();
      return;
    }
    submit.disabled = true;
    try {
      session = await api("GET", "/v1/tenant", { key });
      storeKey(key);
      announce(
        session.role === "operator" ? "Signed in as the operator" : `Signed in to tenant ${session.tenant}`,
      );
      if (!location.hash || location.hash === "#") history.replaceState(null, "", "#/tasks");
      route({ focus: true });
    } catch (error) {
      const unknown = error instanceof ApiError && error.status === 401;
      fill(
        problem,
        errorBox(
          unknown
            ? { ...error, code: error.code, message: "That key was not accepted: it is unknown or revoked." }
            : error,
          "Not signed in",
        ),
      );
      input.focus();
    } finally {
      submit.disabled = false;
    }
  });
  if (refusedNotice) {
    refusedNotice = false;
    fill(
      problem,
      errorBox(
        { message: "Your key is no longer accepted (revoked or unknown). Sign in again." },
        "Signed out",
      ),
    );
  }
  fill(main, form);
  input.focus();
}

function renderOperator() {
  fill(
    main,
    h("h1", {}, "Operator"),
    h(
      "div",
      { class: "notice", role: "status" },
      h(
        "p",
        {},
        "You are signed in with the operator (root) key. It creates tenants and issues their keys, but tasks, definitions and chains belong to a tenant.",
      ),
      h("p", {}, "Sign out and sign in with a tenant key to see its tasks."),
    ),
  );
}

start();
