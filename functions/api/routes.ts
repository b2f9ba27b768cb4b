/** The v1 routes: each parses its input, calls one use case and shapes the answer. */

import type { Route } from "@middy/http-router";
import type { z } from "zod";
import { applyCallback, type CallbackCaller, setSubtext } from "../../shared/app/callbacks.ts";
import { deleteChain, getChain, grantAccess, putChain, revokeAccess } from "../../shared/app/chains.ts";
import {
  deleteDefinition,
  getDefinition,
  listDefinitions,
  putDefinition,
} from "../../shared/app/definitions.ts";
import { taskFileLink, tokenFileLink } from "../../shared/app/files.ts";
import {
  authenticate,
  bearerOf,
  createTenant,
  issueKey,
  listKeys,
  requireOperator,
  requireRole,
  revokeKey,
  type TenantPrincipal,
} from "../../shared/app/identity.ts";
import type { Services } from "../../shared/app/services.ts";
import { cancelTask, getTask, listTasks, startTask } from "../../shared/app/tasks.ts";
import { tenantOfCallbackToken } from "../../shared/core/callback-token.ts";
import { Name } from "../../shared/core/definition.ts";
import { ValidationError } from "../../shared/core/errors.ts";
import type { Principal, Role } from "../../shared/core/tenant.ts";
import { TenantId } from "../../shared/core/tenant.ts";
import { dashboardAsset, dashboardPage } from "./dashboard.ts";
import {
  callbackExamples,
  createKeyExamples,
  createTenantExamples,
  patchTaskExamples,
  putChainExamples,
  putDefinitionExamples,
  startTaskExamples,
} from "./examples.ts";
import {
  type ApiEvent,
  type ApiResult,
  json,
  noContent,
  parseBody,
  parseQuery,
  pathParam,
  redirect,
} from "./http.ts";
import { type DocumentedRoute, openApiResult } from "./openapi.ts";
import {
  presentCancelled,
  presentChain,
  presentDefinition,
  presentGrant,
  presentPrincipal,
  presentRun,
  presentRunSummary,
  presentStarted,
} from "./present.ts";
import {
  CallerView,
  CancelledTask,
  ChainList,
  ChainView,
  DefinitionPage,
  DefinitionView,
  FileLinkView,
  GrantList,
  GrantView,
  Health,
  IssuedKeyView,
  KeyList,
  OpenApiDocumentView,
  StartedTask,
  TaskPage,
  TaskView,
  TenantView,
} from "./responses.ts";
import {
  CallbackBody,
  CreateKeyBody,
  CreateTenantBody,
  DashboardFile,
  DashboardVersion,
  FileName,
  FileToken,
  KeyId,
  ListQuery,
  ListTasksQuery,
  PatchTaskBody,
  PutChainBody,
  PutDefinitionBody,
  StartTaskBody,
  TaskId,
} from "./schemas.ts";

type Handler = (event: ApiEvent) => Promise<ApiResult>;

/** A route of the router, with the documentation the OpenAPI document is generated from. */
export type ApiRoute = DocumentedRoute & { method: Route<ApiEvent, ApiResult>["method"]; handler: Handler };

export function apiRoutes(svc: Services): ApiRoute[] {
  const caller = (event: ApiEvent): Promise<Principal> => authenticate(svc, event.headers.authorization);
  const asTenant =
    (role: Role, fn: (event: ApiEvent, principal: TenantPrincipal) => Promise<ApiResult>): Handler =>
    async (event) =>
      fn(event, requireRole(await caller(event), role));
  const asOperator =
    (fn: (event: ApiEvent) => Promise<ApiResult>): Handler =>
    async (event) => {
      requireOperator(await caller(event));
      return fn(event);
    };

  const routes: ApiRoute[] = [
    {
      method: "GET",
      path: "/health",
      doc: {
        operationId: "health",
        summary: "Liveness",
        tag: "Meta",
        auth: "none",
        responses: { 200: Health },
      },
      handler: async () => json(200, { ok: true }),
    },
    {
      method: "GET",
      path: "/openapi.json",
      doc: {
        operationId: "getOpenApiDocument",
        summary: "This OpenAPI 3.1 document",
        tag: "Meta",
        auth: "none",
        responses: { 200: OpenApiDocumentView },
      },
      handler: async () => openApiResult(routes),
    },
    {
      method: "GET",
      path: "/",
      doc: {
        operationId: "getDashboard",
        summary: "The dashboard (an HTML page; it signs in with an API key itself)",
        tag: "Meta",
        auth: "none",
        responses: { 200: { text: ["text/html"] } },
      },
      handler: async () => dashboardPage(),
    },
    {
      method: "GET",
      path: "/dashboard/{version}/{file}",
      doc: {
        operationId: "getDashboardFile",
        summary: "A script or stylesheet of the dashboard, cached for a year under its version",
        tag: "Meta",
        auth: "none",
        params: { version: DashboardVersion, file: DashboardFile },
        responses: { 200: { text: ["text/javascript", "text/css"] } },
        errors: [404],
      },
      handler: async (event) =>
        dashboardAsset(
          pathParam(event, "version", DashboardVersion),
          pathParam(event, "file", DashboardFile),
        ),
    },
    {
      method: "GET",
      path: "/v1/tasks/{id}/files/{name}/link",
      doc: {
        operationId: "getTaskFileLink",
        summary: "The 5-minute link to a file of a run, as JSON (for scripts that cannot read a redirect)",
        tag: "Files",
        auth: "runner",
        params: { id: TaskId, name: FileName },
        responses: { 200: FileLinkView },
        errors: [404],
      },
      // The same link as the redirect, as JSON: a browser script cannot read a redirect's target.
      handler: asTenant("runner", async (event, who) =>
        json(200, {
          url: await taskFileLink(
            svc,
            who,
            pathParam(event, "id", TaskId),
            pathParam(event, "name", FileName),
          ),
        } satisfies z.infer<typeof FileLinkView>),
      ),
    },

    {
      method: "POST",
      path: "/v1/tenants",
      doc: {
        operationId: "createTenant",
        summary: "Create a tenant",
        tag: "Tenants",
        auth: "operator",
        body: CreateTenantBody,
        examples: createTenantExamples,
        responses: { 201: TenantView },
        errors: [409],
      },
      handler: asOperator(async (event) =>
        json(201, await createTenant(svc, parseBody(event, CreateTenantBody))),
      ),
    },
    {
      method: "POST",
      path: "/v1/tenants/{id}/keys",
      doc: {
        operationId: "issueTenantKey",
        summary: "Issue a key for a tenant (shown once)",
        tag: "Tenants",
        auth: "operator",
        params: { id: TenantId },
        body: CreateKeyBody,
        examples: createKeyExamples,
        responses: { 201: IssuedKeyView },
        errors: [404],
      },
      handler: asOperator(async (event) => {
        const tenant = pathParam(event, "id", TenantId);
        const { role } = parseBody(event, CreateKeyBody);
        return json(201, await issueKey(svc, { tenant, role }));
      }),
    },
    {
      method: "GET",
      path: "/v1/tenant",
      doc: {
        operationId: "getCaller",
        summary: "The caller's tenant, role and key id",
        tag: "Tenants",
        auth: "any",
        responses: { 200: CallerView },
      },
      handler: async (event) => {
        return json(200, presentPrincipal(await caller(event)));
      },
    },

    {
      method: "POST",
      path: "/v1/keys",
      doc: {
        operationId: "issueKey",
        summary: "Issue a key of the caller's tenant (shown once)",
        tag: "Keys",
        auth: "admin",
        body: CreateKeyBody,
        examples: createKeyExamples,
        responses: { 201: IssuedKeyView },
      },
      handler: asTenant("admin", async (event, who) => {
        const { role } = parseBody(event, CreateKeyBody);
        return json(201, await issueKey(svc, { tenant: who.tenant, role }));
      }),
    },
    {
      method: "GET",
      path: "/v1/keys",
      doc: {
        operationId: "listKeys",
        summary: "List the tenant's keys",
        tag: "Keys",
        auth: "admin",
        responses: { 200: KeyList },
      },
      handler: asTenant("admin", async (_event, who) =>
        json(200, { items: await listKeys(svc, who.tenant) }),
      ),
    },
    {
      method: "DELETE",
      path: "/v1/keys/{id}",
      doc: {
        operationId: "revokeKey",
        summary: "Revoke a key (it gets 401 at once)",
        tag: "Keys",
        auth: "admin",
        params: { id: KeyId },
        responses: { 204: null },
        errors: [404],
      },
      handler: asTenant("admin", async (event, who) => {
        await revokeKey(svc, who.tenant, pathParam(event, "id", KeyId));
        return noContent();
      }),
    },

    {
      method: "GET",
      path: "/v1/definitions",
      doc: {
        operationId: "listDefinitions",
        summary: "List definitions",
        description:
          "A page stops before its answer would pass 2.5 MB (definitions carry default params), so it may hold fewer than `limit`; follow `cursor`.",
        tag: "Definitions",
        auth: "runner",
        query: ListQuery,
        responses: { 200: DefinitionPage },
      },
      handler: asTenant("runner", async (event, who) => {
        const { limit, cursor } = parseQuery(event, ListQuery);
        const page = await listDefinitions(svc, who.tenant, {
          ...(limit ? { limit } : {}),
          ...(cursor ? { cursor } : {}),
        });
        return json(200, { items: page.items.map(presentDefinition), cursor: page.cursor ?? null });
      }),
    },
    {
      method: "GET",
      path: "/v1/definitions/{name}",
      doc: {
        operationId: "getDefinition",
        summary: "Read a definition",
        tag: "Definitions",
        auth: "runner",
        params: { name: Name },
        responses: { 200: DefinitionView },
        errors: [404],
      },
      handler: asTenant("runner", async (event, who) =>
        json(200, presentDefinition(await getDefinition(svc, who.tenant, pathParam(event, "name", Name)))),
      ),
    },
    {
      method: "PUT",
      path: "/v1/definitions/{name}",
      doc: {
        operationId: "putDefinition",
        summary: "Create (201) or replace (200) a definition",
        description: "A task names a registered handler; a workflow (`kind: workflow`) names steps instead.",
        tag: "Definitions",
        auth: "admin",
        params: { name: Name },
        body: PutDefinitionBody,
        examples: putDefinitionExamples,
        responses: { 200: DefinitionView, 201: DefinitionView },
      },
      handler: asTenant("admin", async (event, who) => {
        const name = pathParam(event, "name", Name);
        const { name: bodyName, ...input } = parseBody(event, PutDefinitionBody);
        if (bodyName !== undefined && bodyName !== name) {
          throw new ValidationError(`body name "${bodyName}" differs from the path's "${name}"`);
        }
        const { definition, created } = await putDefinition(svc, who.tenant, name, input);
        return json(created ? 201 : 200, presentDefinition(definition));
      }),
    },
    {
      method: "DELETE",
      path: "/v1/definitions/{name}",
      doc: {
        operationId: "deleteDefinition",
        summary: "Delete a definition (started runs keep their snapshot)",
        tag: "Definitions",
        auth: "admin",
        params: { name: Name },
        responses: { 204: null },
        errors: [404],
      },
      handler: asTenant("admin", async (event, who) => {
        await deleteDefinition(svc, who.tenant, pathParam(event, "name", Name));
        return noContent();
      }),
    },

    {
      method: "GET",
      path: "/v1/chains",
      doc: {
        operationId: "listChains",
        summary: "List chain records",
        tag: "Chains",
        auth: "admin",
        responses: { 200: ChainList },
      },
      handler: asTenant("admin", async (_event, who) =>
        json(200, { items: (await svc.chains.listChains(who.tenant)).map(presentChain) }),
      ),
    },
    {
      method: "GET",
      path: "/v1/chains/{name}",
      doc: {
        operationId: "getChain",
        summary: "Read a chain record",
        tag: "Chains",
        auth: "admin",
        params: { name: Name },
        responses: { 200: ChainView },
        errors: [404],
      },
      handler: asTenant("admin", async (event, who) =>
        json(200, presentChain(await getChain(svc, who.tenant, pathParam(event, "name", Name)))),
      ),
    },
    {
      method: "PUT",
      path: "/v1/chains/{name}",
      doc: {
        operationId: "putChain",
        summary: "Create (201) or replace (200) a chain record",
        tag: "Chains",
        auth: "admin",
        params: { name: Name },
        body: PutChainBody,
        examples: putChainExamples,
        responses: { 200: ChainView, 201: ChainView },
      },
      handler: asTenant("admin", async (event, who) => {
        const { chain, created } = await putChain(
          svc,
          who.tenant,
          pathParam(event, "name", Name),
          parseBody(event, PutChainBody),
        );
        return json(created ? 201 : 200, presentChain(chain));
      }),
    },
    {
      method: "DELETE",
      path: "/v1/chains/{name}",
      doc: {
        operationId: "deleteChain",
        summary: "Delete a chain record",
        tag: "Chains",
        auth: "admin",
        params: { name: Name },
        responses: { 204: null },
        errors: [404],
      },
      handler: asTenant("admin", async (event, who) => {
        await deleteChain(svc, who.tenant, pathParam(event, "name", Name));
        return noContent();
      }),
    },
    {
      method: "GET",
      path: "/v1/access",
      doc: {
        operationId: "listGrants",
        summary: "List the access grants this tenant gave",
        tag: "Access",
        auth: "admin",
        responses: { 200: GrantList },
      },
      handler: asTenant("admin", async (_event, who) =>
        json(200, {
          items: (await svc.chains.listGrants(who.tenant)).map(presentGrant),
        }),
      ),
    },
    {
      method: "PUT",
      path: "/v1/access/{sourceTenant}/{chain}",
      doc: {
        operationId: "grantAccess",
        summary: "Let another tenant start one of your chains",
        tag: "Access",
        auth: "admin",
        params: { sourceTenant: TenantId, chain: Name },
        responses: { 200: GrantView, 201: GrantView },
        errors: [404],
      },
      handler: asTenant("admin", async (event, who) => {
        const { grant, created } = await grantAccess(
          svc,
          who.tenant,
          pathParam(event, "sourceTenant", TenantId),
          pathParam(event, "chain", Name),
        );
        return json(created ? 201 : 200, presentGrant(grant));
      }),
    },
    {
      method: "DELETE",
      path: "/v1/access/{sourceTenant}/{chain}",
      doc: {
        operationId: "revokeAccess",
        summary: "Withdraw an access grant",
        tag: "Access",
        auth: "admin",
        params: { sourceTenant: TenantId, chain: Name },
        responses: { 204: null },
        errors: [404],
      },
      handler: asTenant("admin", async (event, who) => {
        await revokeAccess(
          svc,
          who.tenant,
          pathParam(event, "sourceTenant", TenantId),
          pathParam(event, "chain", Name),
        );
        return noContent();
      }),
    },

    {
      method: "POST",
      path: "/v1/tasks",
      doc: {
        operationId: "startTask",
        summary: "Start a run of a definition",
        description: "Answers `queued`, `waiting` (for a concurrency slot) or `scheduled` (`at`/`after`).",
        tag: "Tasks",
        auth: "runner",
        body: StartTaskBody,
        examples: startTaskExamples,
        responses: { 202: StartedTask },
        errors: [409, 429],
      },
      handler: asTenant("runner", async (event, who) => {
        const { run, created } = await startTask(svc, who, parseBody(event, StartTaskBody));
        return json(202, presentStarted(run, created));
      }),
    },
    {
      method: "GET",
      path: "/v1/tasks",
      doc: {
        operationId: "listTasks",
        summary: "List runs, newest first",
        description:
          "Summaries: no params, output, logs, chains or steps, and only the newest end of the feedback; `GET /v1/tasks/{id}` has everything.",
        tag: "Tasks",
        auth: "runner",
        query: ListTasksQuery,
        responses: { 200: TaskPage },
      },
      handler: asTenant("runner", async (event, who) => {
        const { status, definition, limit, cursor } = parseQuery(event, ListTasksQuery);
        const page = await listTasks(svc, who, {
          ...(status ? { status } : {}),
          ...(definition ? { definition } : {}),
          ...(limit ? { limit } : {}),
          ...(cursor ? { cursor } : {}),
        });
        return json(200, { items: page.items.map(presentRunSummary), cursor: page.cursor ?? null });
      }),
    },
    {
      method: "POST",
      path: "/v1/tasks/{id}/cancel",
      doc: {
        operationId: "cancelTask",
        summary: "Cancel a run",
        tag: "Tasks",
        auth: "runner",
        params: { id: TaskId },
        responses: { 200: CancelledTask },
        errors: [404, 409],
      },
      handler: asTenant("runner", async (event, who) => {
        const run = await cancelTask(svc, who, pathParam(event, "id", TaskId));
        return json(200, presentCancelled(run));
      }),
    },
    {
      method: "PATCH",
      path: "/v1/tasks/{id}",
      doc: {
        operationId: "setTaskSubtext",
        summary: "Set a run's subtext, whatever its status",
        tag: "Tasks",
        auth: "runner",
        params: { id: TaskId },
        body: PatchTaskBody,
        examples: patchTaskExamples,
        responses: { 200: TaskView },
        errors: [404],
      },
      handler: asTenant("runner", async (event, who) => {
        const id = pathParam(event, "id", TaskId);
        const { subtext } = parseBody(event, PatchTaskBody);
        return json(200, presentRun(await setSubtext(svc, who.tenant, id, subtext)));
      }),
    },
    {
      method: "GET",
      path: "/v1/tasks/{id}/files/{name}",
      doc: {
        operationId: "getTaskFile",
        summary: "Download a file of a run (302 to a 5-minute link)",
        tag: "Files",
        auth: "runner",
        params: { id: TaskId, name: FileName },
        responses: { 302: null },
        errors: [404],
      },
      handler: asTenant("runner", async (event, who) =>
        redirect(
          await taskFileLink(svc, who, pathParam(event, "id", TaskId), pathParam(event, "name", FileName)),
        ),
      ),
    },
    {
      method: "GET",
      path: "/v1/files/{token}",
      doc: {
        operationId: "getFileByToken",
        summary: "Download the one file a file token names (302)",
        description: "The token is the credential; a tampered or expired token gets 401.",
        tag: "Files",
        auth: "none",
        params: { token: FileToken },
        responses: { 302: null },
        errors: [401, 404],
      },
      // The token is the credential: no key needed.
      handler: async (event) => redirect(await tokenFileLink(svc, pathParam(event, "token", FileToken))),
    },
    {
      method: "POST",
      path: "/v1/callbacks",
      doc: {
        operationId: "callback",
        summary: "Report on an awaiting run",
        description: "`status` SUCCESS or FAILURE ends the run; without it the run keeps waiting.",
        tag: "Callbacks",
        auth: "runner-or-callback-token",
        body: CallbackBody,
        examples: callbackExamples,
        responses: { 200: TaskView },
        errors: [404, 409],
      },
      handler: async (event) => {
        const bearer = bearerOf(event.headers.authorization);
        const tokenTenant = bearer === undefined ? undefined : tenantOfCallbackToken(bearer);
        const callbackCaller: CallbackCaller =
          bearer !== undefined && tokenTenant !== undefined
            ? { kind: "token", tenant: tokenTenant, token: bearer }
            : { kind: "key", tenant: requireRole(await caller(event), "runner").tenant };
        const run = await applyCallback(svc, callbackCaller, parseBody(event, CallbackBody));
        return json(200, presentRun(run));
      },
    },
    {
      method: "GET",
      path: "/v1/tasks/{id}",
      doc: {
        operationId: "getTask",
        summary: "Read a run",
        tag: "Tasks",
        auth: "runner",
        params: { id: TaskId },
        responses: { 200: TaskView },
        errors: [404],
      },
      handler: asTenant("runner", async (event, who) =>
        json(200, presentRun(await getTask(svc, who, pathParam(event, "id", TaskId)))),
      ),
    },
  ];
  return routes;
}
