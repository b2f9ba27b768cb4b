/** The routes of task and workflow definitions. */
import {
  deleteDefinition,
  getDefinition,
  listDefinitions,
  putDefinition,
} from "../../../shared/app/definitions.ts";
import type { Services } from "../../../shared/app/services.ts";
import { ValidationError } from "../../../shared/core/errors.ts";
import { Name } from "../../../shared/core/names.ts";
import { putDefinitionExamples } from "../examples.ts";
import { json, noContent, parseBody, parseQuery, pathParam } from "../http.ts";
import { presentDefinition } from "../present.ts";
import { DefinitionPage, DefinitionView } from "../responses.ts";
import { ListQuery, PutDefinitionBody } from "../schemas.ts";
import { routeAuthz } from "./auth.ts";
import type { ApiRoute } from "./route.ts";

export function definitionsRoutes(svc: Services): ApiRoute[] {
  const { asTenant } = routeAuthz(svc);
  return [
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
  ];
}
