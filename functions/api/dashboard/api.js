// The API client: the key lives in sessionStorage only, so it is gone when the tab closes.

const KEY_ITEM = "baton.key";

/** An answer of the API that was not 2xx, with its `{error, message, details}` body. */
export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message ?? `HTTP ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.code = body?.error ?? "http_error";
    this.details = body?.details;
  }
}

export function storedKey() {
  return sessionStorage.getItem(KEY_ITEM);
}

export function storeKey(key) {
  sessionStorage.setItem(KEY_ITEM, key);
}

export function forgetKey() {
  sessionStorage.removeItem(KEY_ITEM);
}

/**
 * Calls the API relative to the page (so it works at the root of any host) with the stored key.
 * Resolves to the parsed JSON body (null for 204); rejects with ApiError.
 */
export async function api(method, path, { body, key = storedKey(), query } = {}) {
  const url = new URL(path.replace(/^\//, ""), document.baseURI);
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, String(value));
  }
  const headers = { accept: "application/json" };
  if (key) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
  } catch (error) {
    throw new ApiError(0, { error: "network_error", message: `could not reach the API (${error.message})` });
  }
  const text = await response.text();
  let parsed = null;
  if (text !== "") {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = {
        error: "bad_response",
        message: `the API answered ${response.status} with something not JSON`,
      };
    }
  }
  // The stored key stopped working (revoked): the app signs out and says why.
  if (response.status === 401 && key && key === storedKey()) {
    window.dispatchEvent(new CustomEvent("baton:key-refused"));
  }
  if (!response.ok) throw new ApiError(response.status, parsed);
  return parsed;
}

/** Every page of a list endpoint, up to `max` items. */
export async function listAll(path, max = 500) {
  const items = [];
  let cursor;
  do {
    const page = await api("GET", path, { query: { limit: 100, cursor } });
    items.push(...page.items);
    cursor = page.cursor;
  } while (cursor && items.length < max);
  return items;
}
