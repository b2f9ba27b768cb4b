/** The routes of tenants and their API keys. */
import {
  createTenant,
  getTenantLimits,
  issueKey,
  listKeys,
  listTenantKeys,
  revokeKey,
  setTenantLimits,
} from "../../../shared/app/identity.ts";
import type { Services } from "../../../shared/app/services.ts";
import { START_RATE_LIMITS } from "../../../shared/core/start-rate.ts";
import { TenantId, TenantLimits } from "../../../shared/core/tenant.ts";
import { createKeyExamples, createTenantExamples } from "../examples.ts";
import { json, noContent, parseBody, pathParam } from "../http.ts";
import { presentPrincipal } from "../present.ts";
import { CallerView, IssuedKeyView, KeyList, TenantLimitsView, TenantView } from "../responses.ts";
import { CreateKeyBody, CreateTenantBody, KeyId } from "../schemas.ts";
import { routeAuthz } from "./auth.ts";
import type { ApiRoute } from "./route.ts";

export function tenantsRoutes(svc: Services): ApiRoute[] {
  const { caller, asTenant, asOperator } = routeAuthz(svc);
  return [
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
      method: "PUT",
      path: "/v1/tenants/{id}/limits",
      doc: {
        operationId: "setTenantLimits",
        summary:
          "Replace a tenant's limits: chain trees, running tasks, waiting line, start rate (`{}` clears them all)",
        description:
          "Replaces, never merges: the limits sent are all the tenant has afterwards, and a field left out " +
          "goes back to its default. `maxChainDepth` (default 8, at most 16) and `maxChainTree` (default " +
          "1,000, at most 10,000) bound chain trees; `maxConcurrency` caps the tenant's runs holding a slot " +
          "(queued or running) across its definitions, the rest wait in a tenant-wide line that `maxWaiting` " +
          "bounds (a start beyond gets 429 `queue_full`); " +
          `\`startsPerSecond\` (${START_RATE_LIMITS.minStartsPerSecond} ` +
          `to ${START_RATE_LIMITS.maxStartsPerSecond}) and \`burst\` (default ceil(startsPerSecond), at most ` +
          `${START_RATE_LIMITS.maxBurst}) bound how fast the tenant starts runs, by any trigger: a start beyond ` +
          "gets 429 `rate_limited` with Retry-After. The change applies to the next start (within 5 s on other instances).",
        tag: "Tenants",
        auth: "operator",
        params: { id: TenantId },
        body: TenantLimits,
        examples: {
          limits: { summary: "Shallow, small trees", value: { maxChainDepth: 4, maxChainTree: 100 } },
          caps: {
            summary: "At most 20 running tasks, 1,000 waiting",
            value: { maxConcurrency: 20, maxWaiting: 1000 },
          },
          rate: {
            summary: "At most 5 starts a second, 20 at once",
            value: { startsPerSecond: 5, burst: 20 },
          },
          clear: { summary: "Back to the defaults: no start rate", value: {} },
        },
        responses: { 200: TenantView },
        errors: [404],
      },
      handler: asOperator(async (event) =>
        json(
          200,
          await setTenantLimits(svc, pathParam(event, "id", TenantId), parseBody(event, TenantLimits)),
        ),
      ),
    },
    {
      method: "GET",
      path: "/v1/tenants/{id}/limits",
      doc: {
        operationId: "getTenantLimits",
        summary: "The limits in force for a tenant (defaults filled in; null: no limit)",
        tag: "Tenants",
        auth: "operator",
        params: { id: TenantId },
        responses: { 200: TenantLimitsView },
        errors: [404],
      },
      handler: asOperator(async (event) =>
        json(200, await getTenantLimits(svc, pathParam(event, "id", TenantId))),
      ),
    },
    {
      method: "GET",
      path: "/v1/tenants/{id}/keys",
      doc: {
        operationId: "listTenantKeys",
        summary: "List a tenant's keys (ids and roles, never the keys)",
        tag: "Tenants",
        auth: "operator",
        params: { id: TenantId },
        responses: { 200: KeyList },
        errors: [404],
      },
      handler: asOperator(async (event) => {
        const tenant = pathParam(event, "id", TenantId);
        return json(200, { items: await listTenantKeys(svc, tenant) });
      }),
    },
    {
      method: "DELETE",
      path: "/v1/tenants/{id}/keys/{keyId}",
      doc: {
        operationId: "revokeTenantKey",
        summary: "Revoke a tenant's key (it gets 401 at once)",
        tag: "Tenants",
        auth: "operator",
        params: { id: TenantId, keyId: KeyId },
        responses: { 204: null },
        errors: [404],
      },
      handler: asOperator(async (event) => {
        await revokeKey(svc, pathParam(event, "id", TenantId), pathParam(event, "keyId", KeyId));
        return noContent();
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
  ];
}
