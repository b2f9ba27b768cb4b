/**
 * The dashboard: plain HTML, ES modules and CSS from ./dashboard/, served by the api itself so a
 * deployment needs no other hosting. The files are read beside this module: under tsx that is the
 * source folder, in the Lambda bundle the copy infra/baton-stack.ts puts beside index.mjs.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { NotFoundError } from "../../shared/core/errors.ts";
import type { ApiResult } from "./http.ts";

/** Every file the dashboard may serve, with its type: nothing else under the folder is reachable. */
const ASSET_TYPES: ReadonlyMap<string, string> = new Map([
  ["app.js", "text/javascript; charset=utf-8"],
  ["api.js", "text/javascript; charset=utf-8"],
  ["dom.js", "text/javascript; charset=utf-8"],
  ["tasks.js", "text/javascript; charset=utf-8"],
  ["bulk.js", "text/javascript; charset=utf-8"],
  ["run-page.js", "text/javascript; charset=utf-8"],
  ["timeline.js", "text/javascript; charset=utf-8"],
  ["live.js", "text/javascript; charset=utf-8"],
  ["start.js", "text/javascript; charset=utf-8"],
  ["admin.js", "text/javascript; charset=utf-8"],
  ["style.css", "text/css; charset=utf-8"],
]);

/** Where index.html names the versioned asset folder. */
const VERSION_PLACEHOLDER = "%VERSION%";
/** Where index.html names the URL live event streams are opened on (empty: this origin). */
const EVENTS_URL_PLACEHOLDER = "%EVENTS_URL%";

/**
 * Scripts and styles only from this origin (no inline code at all), requests only to this API,
 * no frames, no plugins, no form posts elsewhere. Files are downloaded by navigating to a
 * presigned link, which connect-src does not govern.
 */
export const DASHBOARD_CSP = dashboardCsp();

/** The CSP, with the events URL's origin among the places the page may connect to, if it has one. */
export function dashboardCsp(eventsUrl?: string): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    eventsUrl === undefined ? "connect-src 'self'" : `connect-src 'self' ${new URL(eventsUrl).origin}`,
    "form-action 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

const SECURITY_HEADERS = {
  "content-security-policy": DASHBOARD_CSP,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
};

interface Dashboard {
  /** A hash of every asset: the path segment that lets browsers cache them for good. */
  version: string;
  page: string;
  assets: Map<string, string>;
}

let loaded: Dashboard | undefined;

function dashboard(): Dashboard {
  if (loaded !== undefined) return loaded;
  const read = (name: string) => readFileSync(new URL(`./dashboard/${name}`, import.meta.url), "utf8");
  const assets = new Map([...ASSET_TYPES.keys()].map((name) => [name, read(name)]));
  const hash = createHash("sha256");
  for (const [name, text] of assets) hash.update(name).update("\0").update(text).update("\0");
  const version = hash.digest("hex").slice(0, 12);
  loaded = { version, page: read("index.html").replaceAll(VERSION_PLACEHOLDER, version), assets };
  return loaded;
}

/**
 * GET /: the page itself, revalidated on every load so a deployment shows at once. `eventsUrl`:
 * where the run page opens its event stream (on AWS the events function URL); the page's own
 * origin without it.
 */
export function dashboardPage(eventsUrl?: string): ApiResult {
  return {
    statusCode: 200,
    headers: {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-cache",
      ...SECURITY_HEADERS,
      "content-security-policy": dashboardCsp(eventsUrl),
    },
    body: dashboard().page.replace(EVENTS_URL_PLACEHOLDER, escapeAttribute(eventsUrl ?? "")),
  };
}

function escapeAttribute(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll('"', "&quot;").replaceAll("<", "&lt;");
}

/**
 * GET /dashboard/{version}/{file}. The current version's files never change, so they are cached
 * for a year; a page from before a deployment asking for its old version gets today's file,
 * uncached.
 */
export function dashboardAsset(version: string | undefined, file: string | undefined): ApiResult {
  const current = dashboard();
  const type = file === undefined ? undefined : ASSET_TYPES.get(file);
  const body = file === undefined ? undefined : current.assets.get(file);
  if (type === undefined || body === undefined) throw new NotFoundError(`no dashboard file "${file ?? ""}"`);
  return {
    statusCode: 200,
    headers: {
      "content-type": type,
      "cache-control": version === current.version ? "public, max-age=31536000, immutable" : "no-cache",
      ...SECURITY_HEADERS,
    },
    body,
  };
}
