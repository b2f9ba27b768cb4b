/** The routes of chain records and of the access grants that let other tenants start them. */
import { deleteChain, getChain, grantAccess, putChain, revokeAccess } from "../../../shared/app/chains.ts";
import type { Services } from "../../../shared/app/services.ts";
import { Name } from "../../../shared/core/names.ts";
import { TenantId } from "../../../shared/core/tenant.ts";
import { putChainExamples } from "../examples.ts";
import { json, noContent, parseBody, pathParam } from "../http.ts";
import { presentChain, presentGrant } from "../present.ts";
import { ChainList, ChainView, GrantList, GrantView } from "../responses.ts";
import { PutChainBody } from "../schemas.ts";
import { routeAuthz } from "./auth.ts";
import type { ApiRoute } from "./route.ts";

export function chainsRoutes(svc: Services): ApiRoute[] {
  const { asTenant } = routeAuthz(svc);
  return [
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
  ];
}
