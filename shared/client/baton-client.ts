/**
 * A typed client for Baton's v1 API, on the global `fetch`. One method per route; request and
 * response types come from the server's schemas and presenters (./types.ts).
 *
 * @example
 * const baton = new BatonClient({ url: "http://127.0.0.1:3000", key: process.env.BATON_KEY });
 * const { taskId } = await baton.startTask({ definition: "echo", params: { name: "Ada" } });
 * const run = await baton.waitForEnd(taskId);
 */
import { type ApiErrorBody, apiErrorOf, BatonApiError, BatonConnectionError } from "./errors.ts";
import type {
  AccessGrantView,
  BulkTaskRequest,
  BulkView,
  CallbackRequest,
  CancelTaskResult,
  ChainView,
  CreateKeyRequest,
  CreateTenantRequest,
  DefinitionView,
  HealthView,
  IssuedKey,
  Items,
  KeyView,
  ListQuery,
  ListTasksQuery,
  Page,
  PutChainRequest,
  PutDefinitionRequest,
  ReadTokenView,
  ReplayTaskRequest,
  StartedBulkView,
  StartedRunView,
  StartTaskRequest,
  StartTaskResult,
  TaskSummaryView,
  TaskView,
  TenantView,
  Whoami,
} from "./types.ts";
import { type WaitOptions, type WatchOptions, waitForEnd, watchTask } from "./watch.ts";

export interface BatonClientOptions {
  /** The API's base URL, e.g. `http://127.0.0.1:3000` or the API Gateway URL. */
  url: string;
  /** An API key (`bk_…`), the operator key, or undefined for routes that need none. */
  key?: string;
  /** Gives up on one request after this long (default 30 s); a BatonConnectionError says so. */
  requestTimeoutMs?: number;
  /** Another fetch (tests, proxies); default the global one. */
  fetch?: typeof fetch;
}

interface RequestOptions {
  body?: unknown;
  query?: Record<string, string | number | undefined>;
  /** Overrides the client's key for this request (a callback token). */
  bearer?: string;
  /** Answer the redirect's target instead of following it. */
  redirect?: boolean;
}

export class BatonClient {
  readonly url: string;
  readonly #key: string | undefined;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;

  constructor(options: BatonClientOptions) {
    let base: URL;
    try {
      base = new URL(options.url);
    } catch {
      throw new TypeError(`"${options.url}" is not a URL; give one like http://127.0.0.1:3000`);
    }
    if (base.protocol !== "http:" && base.protocol !== "https:") {
      throw new TypeError(`"${options.url}" is not an http(s) URL`);
    }
    this.url = base.href.replace(/\/+$/, "");
    this.#key = options.key;
    this.#timeoutMs = options.requestTimeoutMs ?? 30_000;
    this.#fetch = options.fetch ?? globalThis.fetch;
  }

  // Identity (operator: tenants and their keys; admin: the tenant's own keys).

  /** `GET /v1/tenant`: the caller's tenant, role and key id (or `{role: "operator"}`). */
  whoami(): Promise<Whoami> {
    return this.#request("GET", "/v1/tenant");
  }

  /** `POST /v1/tenants` (operator key). */
  createTenant(body: CreateTenantRequest): Promise<TenantView> {
    return this.#request("POST", "/v1/tenants", { body });
  }

  /** `POST /v1/tenants/{id}/keys` (operator key): the key is in the answer, once. */
  issueTenantKey(tenant: string, body: CreateKeyRequest): Promise<IssuedKey> {
    return this.#request("POST", `/v1/tenants/${segment(tenant)}/keys`, { body });
  }

  /** `GET /v1/tenants/{id}/keys` (operator key): key ids and roles, never the keys. */
  listTenantKeys(tenant: string): Promise<Items<KeyView>> {
    return this.#request("GET", `/v1/tenants/${segment(tenant)}/keys`);
  }

  /** `DELETE /v1/tenants/{id}/keys/{keyId}` (operator key): the key gets 401 from the next request on. */
  async revokeTenantKey(tenant: string, keyId: string): Promise<void> {
    await this.#request("DELETE", `/v1/tenants/${segment(tenant)}/keys/${segment(keyId)}`);
  }

  /** `POST /v1/keys` (admin): a new key of the caller's tenant. */
  createKey(body: CreateKeyRequest): Promise<IssuedKey> {
    return this.#request("POST", "/v1/keys", { body });
  }

  listKeys(): Promise<Items<KeyView>> {
    return this.#request("GET", "/v1/keys");
  }

  /** `DELETE /v1/keys/{keyId}`: the key gets 401 from the next request on. */
  async revokeKey(keyId: string): Promise<void> {
    await this.#request("DELETE", `/v1/keys/${segment(keyId)}`);
  }

  // Definitions.

  /** Creates or replaces a definition (`created` tells which). */
  async putDefinition(
    name: string,
    body: PutDefinitionRequest,
  ): Promise<{ definition: DefinitionView; created: boolean }> {
    const { value, status } = await this.#send<DefinitionView>("PUT", `/v1/definitions/${segment(name)}`, {
      body,
    });
    return { definition: value, created: status === 201 };
  }

  getDefinition(name: string): Promise<DefinitionView> {
    return this.#request("GET", `/v1/definitions/${segment(name)}`);
  }

  listDefinitions(query: ListQuery = {}): Promise<Page<DefinitionView>> {
    return this.#request("GET", "/v1/definitions", { query });
  }

  async deleteDefinition(name: string): Promise<void> {
    await this.#request("DELETE", `/v1/definitions/${segment(name)}`);
  }

  // Chains and access grants.

  async putChain(name: string, body: PutChainRequest): Promise<{ chain: ChainView; created: boolean }> {
    const { value, status } = await this.#send<ChainView>("PUT", `/v1/chains/${segment(name)}`, { body });
    return { chain: value, created: status === 201 };
  }

  getChain(name: string): Promise<ChainView> {
    return this.#request("GET", `/v1/chains/${segment(name)}`);
  }

  listChains(): Promise<Items<ChainView>> {
    return this.#request("GET", "/v1/chains");
  }

  async deleteChain(name: string): Promise<void> {
    await this.#request("DELETE", `/v1/chains/${segment(name)}`);
  }

  /** Lets `sourceTenant` start this tenant's chain `chain`. */
  async grantAccess(
    sourceTenant: string,
    chain: string,
  ): Promise<{ grant: AccessGrantView; created: boolean }> {
    const { value, status } = await this.#send<AccessGrantView>(
      "PUT",
      `/v1/access/${segment(sourceTenant)}/${segment(chain)}`,
    );
    return { grant: value, created: status === 201 };
  }

  listGrants(): Promise<Items<AccessGrantView>> {
    return this.#request("GET", "/v1/access");
  }

  async revokeAccess(sourceTenant: string, chain: string): Promise<void> {
    await this.#request("DELETE", `/v1/access/${segment(sourceTenant)}/${segment(chain)}`);
  }

  // Tasks.

  /** `POST /v1/tasks`; a full waiting line throws BatonQueueFullError, a tenant over its start rate BatonRateLimitedError. */
  startTask(body: StartTaskRequest): Promise<StartTaskResult> {
    return this.#request("POST", "/v1/tasks", { body });
  }

  getTask(taskId: string): Promise<TaskView> {
    return this.#request("GET", `/v1/tasks/${segment(taskId)}`);
  }

  /** Runs, newest first; pass `cursor` back for the next page. */
  listTasks(query: ListTasksQuery = {}): Promise<Page<TaskSummaryView>> {
    return this.#request("GET", "/v1/tasks", { query });
  }

  /** The runs a run started (chain hops, workflow steps, `ctx.tasks.start`), oldest first. */
  listStartedTasks(taskId: string, query: ListQuery = {}): Promise<Page<StartedRunView>> {
    return this.#request("GET", `/v1/tasks/${segment(taskId)}/started`, { query });
  }

  /** Cancels a run; a running one stops at its next heartbeat (`cancelRequested`). */
  cancelTask(taskId: string): Promise<CancelTaskResult> {
    return this.#request("POST", `/v1/tasks/${segment(taskId)}/cancel`);
  }

  /**
   * `POST /v1/tasks/{id}/replay`: a new run of the same definition with the original's params
   * (and `params` over them); a failed workflow with `fromFailedStep` keeps its succeeded steps.
   */
  replayTask(taskId: string, body: ReplayTaskRequest = {}): Promise<StartTaskResult> {
    return this.#request("POST", `/v1/tasks/${segment(taskId)}/replay`, { body });
  }

  /**
   * `POST /v1/tasks/bulk`: cancels or replays, in the background, every run the filter matches
   * (`dryRun` only counts them). `matched` counts the first page; follow it with getBulk.
   */
  startBulk(body: BulkTaskRequest): Promise<StartedBulkView> {
    return this.#request("POST", "/v1/tasks/bulk", { body });
  }

  /** `GET /v1/tasks/bulk/{bulkId}`: a bulk action's progress; `status` leaves `running` when it ends. */
  getBulk(bulkId: string): Promise<BulkView> {
    return this.#request("GET", `/v1/tasks/bulk/${segment(bulkId)}`);
  }

  /**
   * `POST /v1/tasks/{id}/read-token`: a short-lived token for a frontend, which reads this run
   * (`new BatonClient({ key: token }).getTask(id)`) and nothing else.
   */
  issueReadToken(taskId: string, seconds?: number): Promise<ReadTokenView> {
    return this.#request("POST", `/v1/tasks/${segment(taskId)}/read-token`, {
      body: seconds === undefined ? {} : { seconds },
    });
  }

  /** `PATCH /v1/tasks/{id}`: sets the run's subtext, whatever its status. */
  setSubtext(taskId: string, subtext: string): Promise<TaskView> {
    return this.#request("PATCH", `/v1/tasks/${segment(taskId)}`, { body: { subtext } });
  }

  /**
   * `POST /v1/callbacks` on an awaiting run, with the client's key (runner or admin) or, when
   * `token` is given, with the run's callback token (what an outside system holds).
   */
  callback(body: CallbackRequest, options: { token?: string } = {}): Promise<TaskView> {
    return this.#request("POST", "/v1/callbacks", {
      body,
      ...(options.token === undefined ? {} : { bearer: options.token }),
    });
  }

  /** A short-lived download link for a file of a task (the target of the API's redirect). */
  taskFileUrl(taskId: string, name: string): Promise<string> {
    return this.#request("GET", `/v1/tasks/${segment(taskId)}/files/${segment(name)}`, { redirect: true });
  }

  /** `DELETE /v1/tasks/{id}/file-tokens`: every file token issued so far for the run's files gets 401. */
  async revokeFileTokens(taskId: string): Promise<void> {
    await this.#request("DELETE", `/v1/tasks/${segment(taskId)}/file-tokens`);
  }

  /** A download link for the one file a file token names; needs no key. */
  fileTokenUrl(token: string): Promise<string> {
    return this.#request("GET", `/v1/files/${segment(token)}`, { redirect: true, bearer: "" });
  }

  /** `GET /health`: a 503 (a dependency did not answer) throws, as any error answer does. */
  health(): Promise<HealthView> {
    return this.#request("GET", "/health", { bearer: "" });
  }

  // Following a run.

  /** Polls the run (with backoff) until it ends, and answers its final view. */
  waitForEnd(taskId: string, options: WaitOptions = {}): Promise<TaskView> {
    return waitForEnd(this, taskId, options);
  }

  /** Yields the run's view each time it changes, ending with its terminal view. */
  watch(taskId: string, options: WatchOptions = {}): AsyncGenerator<TaskView, void, undefined> {
    return watchTask(this, taskId, options);
  }

  async #request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    return (await this.#send<T>(method, path, options)).value;
  }

  async #send<T>(
    method: string,
    path: string,
    options: RequestOptions = {},
  ): Promise<{ value: T; status: number }> {
    const url = new URL(this.url + path);
    for (const [name, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(name, String(value));
    }
    const bearer = options.bearer ?? this.#key;
    const headers: Record<string, string> = { accept: "application/json" };
    if (bearer !== undefined && bearer !== "") headers.authorization = `Bearer ${bearer}`;
    if (options.body !== undefined) headers["content-type"] = "application/json";

    let response: Response;
    try {
      response = await this.#fetch(url, {
        method,
        headers,
        redirect: options.redirect ? "manual" : "follow",
        signal: AbortSignal.timeout(this.#timeoutMs),
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
      });
    } catch (error) {
      throw connectionError(this.url, error, this.#timeoutMs);
    }

    if (options.redirect && response.status >= 300 && response.status < 400) {
      const location = response.headers.get("location");
      await response.body?.cancel();
      if (location !== null) return { value: location as T, status: response.status };
    }
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      throw connectionError(this.url, error, this.#timeoutMs);
    }
    const parsed = parseJson(text);
    if (!response.ok) {
      throw apiErrorOf({
        status: response.status,
        body: isErrorBody(parsed)
          ? parsed
          : {
              error: "unexpected_response",
              message: `${method} ${path} answered ${response.status} ${response.statusText}${text === "" ? "" : `: ${text.slice(0, 200)}`}`,
            },
        method,
        path,
      });
    }
    if (response.status === 204 || text === "") return { value: undefined as T, status: response.status };
    if (parsed === undefined) {
      throw new BatonApiError({
        status: response.status,
        body: {
          error: "unexpected_response",
          message: `${method} ${path} answered ${response.status} with a body that is not JSON; is ${this.url} a Baton API?`,
        },
        method,
        path,
      });
    }
    return { value: parsed as T, status: response.status };
  }
}

/** A path segment, escaped: ids and names never change the path's shape. */
function segment(value: string): string {
  return encodeURIComponent(value);
}

function parseJson(text: string): unknown {
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isErrorBody(value: unknown): value is ApiErrorBody {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as ApiErrorBody).error === "string" &&
    typeof (value as ApiErrorBody).message === "string"
  );
}

function connectionError(url: string, error: unknown, timeoutMs: number): BatonConnectionError {
  if (error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError")) {
    return new BatonConnectionError(url, `no answer from ${url} within ${timeoutMs} ms`, { cause: error });
  }
  // fetch says "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND, …) is on its cause.
  const cause = error instanceof Error ? error.cause : undefined;
  const reason =
    (cause as { code?: unknown } | undefined)?.code ??
    (cause instanceof Error ? cause.message : undefined) ??
    (error instanceof Error ? error.message : String(error));
  return new BatonConnectionError(url, `cannot reach Baton at ${url} (${String(reason)})`, { cause: error });
}
