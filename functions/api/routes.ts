/** The v1 routes: each parses its input, calls one use case and shapes the answer. */
import type { Route } from "@middy/http-router";
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
import {
  presentCancelled,
  presentChain,
  presentDefinition,
  presentGrant,
  presentPrincipal,
  presentRun,
  presentStarted,
} from "./present.ts";
import {
  CallbackBody,
  CreateKeyBody,
  CreateTenantBody,
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

export function apiRoutes(svc: Services): Route<ApiEvent, ApiResult>[] {
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

  const routes: Array<{ method: Route<ApiEvent, ApiResult>["method"]; path: string; handler: Handler }> = [
    { method: "GET", path: "/health", handler: async () => json(200, { ok: true }) },

    {
      method: "POST",
      path: "/v1/tenants",
      handler: asOperator(async (event) =>
        json(201, await createTenant(svc, parseBody(event, CreateTenantBody))),
      ),
    },
    {
      method: "POST",
      path: "/v1/tenants/{id}/keys",
      handler: asOperator(async (event) => {
        const tenant = pathParam(event, "id", TenantId);
        const { role } = parseBody(event, CreateKeyBody);
        return json(201, await issueKey(svc, { tenant, role }));
      }),
    },
    {
      method: "GET",
      path: "/v1/tenant",
      handler: async (event) => {
        return json(200, presentPrincipal(await caller(event)));
      },
    },

    {
      method: "POST",
      path: "/v1/keys",
      handler: asTenant("admin", async (event, who) => {
        const { role } = parseBody(event, CreateKeyBody);
        return json(201, await issueKey(svc, { tenant: who.tenant, role }));
      }),
    },
    {
      method: "GET",
      path: "/v1/keys",
      handler: asTenant("admin", async (_event, who) =>
        json(200, { items: await listKeys(svc, who.tenant) }),
      ),
    },
    {
      method: "DELETE",
      path: "/v1/keys/{id}",
      handler: asTenant("admin", async (event, who) => {
        await revokeKey(svc, who.tenant, pathParam(event, "id", KeyId));
        return noContent();
      }),
    },

    {
      method: "GET",
      path: "/v1/definitions",
      handler: asTenant("runner", async (event, who) => {
        const { limit, cursor } = parseQuery(event, ListQuery);
        const page = await listDefinitions(svc, who.tenant, {
          limit: limit ?? 50,
          ...(cursor ? { cursor } : {}),
        });
        return json(200, { items: page.items.map(presentDefinition), cursor: page.cursor ?? null });
      }),
    },
    {
      method: "GET",
      path: "/v1/definitions/{name}",
      handler: asTenant("runner", async (event, who) =>
        json(200, presentDefinition(await getDefinition(svc, who.tenant, pathParam(event, "name", Name)))),
      ),
    },
    {
      method: "PUT",
      path: "/v1/definitions/{name}",
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
      handler: asTenant("admin", async (event, who) => {
        await deleteDefinition(svc, who.tenant, pathParam(event, "name", Name));
        return noContent();
      }),
    },

    {
      method: "GET",
      path: "/v1/chains",
      handler: asTenant("admin", async (_event, who) =>
        json(200, { items: (await svc.chains.listChains(who.tenant)).map(presentChain) }),
      ),
    },
    {
      method: "GET",
      path: "/v1/chains/{name}",
      handler: asTenant("admin", async (event, who) =>
        json(200, presentChain(await getChain(svc, who.tenant, pathParam(event, "name", Name)))),
      ),
    },
    {
      method: "PUT",
      path: "/v1/chains/{name}",
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
      handler: asTenant("admin", async (event, who) => {
        await deleteChain(svc, who.tenant, pathParam(event, "name", Name));
        return noContent();
      }),
    },
    {
      method: "GET",
      path: "/v1/access",
      handler: asTenant("admin", async (_event, who) =>
        json(200, {
          items: (await svc.chains.listGrants(who.tenant)).map(presentGrant),
        }),
      ),
    },
    {
      method: "PUT",
      path: "/v1/access/{sourceTenant}/{chain}",
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
      handler: asTenant("runner", async (event, who) => {
        const { run, created } = await startTask(svc, who, parseBody(event, StartTaskBody));
        return json(202, presentStarted(run, created));
      }),
    },
    {
      method: "GET",
      path: "/v1/tasks",
      handler: asTenant("runner", async (event, who) => {
        const { status, definition, limit, cursor } = parseQuery(event, ListTasksQuery);
        const page = await listTasks(svc, who, {
          ...(status ? { status } : {}),
          ...(definition ? { definition } : {}),
          ...(limit ? { limit } : {}),
          ...(cursor ? { cursor } : {}),
        });
        return json(200, { items: page.items.map(presentRun), cursor: page.cursor ?? null });
      }),
    },
    {
      method: "POST",
      path: "/v1/tasks/{id}/cancel",
      handler: asTenant("runner", async (event, who) => {
        const run = await cancelTask(svc, who, pathParam(event, "id", TaskId));
        return json(200, presentCancelled(run));
      }),
    },
    {
      method: "PATCH",
      path: "/v1/tasks/{id}",
      handler: asTenant("runner", async (event, who) => {
        const id = pathParam(event, "id", TaskId);
        const { subtext } = parseBody(event, PatchTaskBody);
        return json(200, presentRun(await setSubtext(svc, who.tenant, id, subtext)));
      }),
    },
    {
      method: "GET",
      path: "/v1/tasks/{id}/files/{name}",
      handler: asTenant("runner", async (event, who) =>
        redirect(
          await taskFileLink(svc, who, pathParam(event, "id", TaskId), pathParam(event, "name", FileName)),
        ),
      ),
    },
    {
      method: "GET",
      path: "/v1/files/{token}",
      // The token is the credential: no key needed.
      handler: async (event) => redirect(await tokenFileLink(svc, pathParam(event, "token", FileToken))),
    },
    {
      method: "POST",
      path: "/v1/callbacks",
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
      handler: asTenant("runner", async (event, who) =>
        json(200, presentRun(await getTask(svc, who, pathParam(event, "id", TaskId)))),
      ),
    },
  ];
  return routes;
}
