/** Upload destinations: admins register FTP, FTPS and SFTP servers; secrets go in, never out. */
import type { z } from "zod";
import {
  deleteDestination,
  getDestination,
  listDestinations,
  putDestination,
} from "../../../shared/app/destinations.ts";
import type { Services } from "../../../shared/app/services.ts";
import { Name } from "../../../shared/core/names.ts";
import { putDestinationExamples } from "../examples.ts";
import { json, noContent, parseBody, pathParam } from "../http.ts";
import { presentDestination } from "../present.ts";
import { DestinationList, DestinationView } from "../responses.ts";
import { PutDestinationBody } from "../schemas.ts";
import { routeAuthz } from "./auth.ts";
import type { ApiRoute } from "./route.ts";

export function destinationRoutes(svc: Services): ApiRoute[] {
  const { asTenant } = routeAuthz(svc);
  return [
    {
      method: "GET",
      path: "/v1/destinations",
      doc: {
        operationId: "listDestinations",
        summary: "List upload destinations (without their credentials)",
        tag: "Destinations",
        auth: "admin",
        responses: { 200: DestinationList },
      },
      handler: asTenant("admin", async (_event, who) =>
        json(200, {
          items: (await listDestinations(svc, who.tenant)).map(presentDestination),
        } satisfies z.infer<typeof DestinationList>),
      ),
    },
    {
      method: "GET",
      path: "/v1/destinations/{name}",
      doc: {
        operationId: "getDestination",
        summary: "Read an upload destination (which credentials are set, never their values)",
        tag: "Destinations",
        auth: "admin",
        params: { name: Name },
        responses: { 200: DestinationView },
        errors: [404],
      },
      handler: asTenant("admin", async (event, who) =>
        json(200, presentDestination(await getDestination(svc, who.tenant, pathParam(event, "name", Name)))),
      ),
    },
    {
      method: "PUT",
      path: "/v1/destinations/{name}",
      doc: {
        operationId: "putDestination",
        summary: "Create (201) or replace (200) an upload destination",
        description:
          "An FTP, FTPS or SFTP server that handlers upload to with `ctx.files.upload`. The password " +
          "and private key are sealed at rest and never shown again; a PUT replaces them all, so send " +
          "every credential each time. 409 when another PUT changed it meanwhile.",
        tag: "Destinations",
        auth: "admin",
        params: { name: Name },
        body: PutDestinationBody,
        examples: putDestinationExamples,
        responses: { 200: DestinationView, 201: DestinationView },
        errors: [409],
      },
      handler: asTenant("admin", async (event, who) => {
        const { destination, created } = await putDestination(
          svc,
          who.tenant,
          pathParam(event, "name", Name),
          parseBody(event, PutDestinationBody),
        );
        return json(created ? 201 : 200, presentDestination(destination));
      }),
    },
    {
      method: "DELETE",
      path: "/v1/destinations/{name}",
      doc: {
        operationId: "deleteDestination",
        summary: "Delete an upload destination (uploads to it then fail with destination_not_found)",
        tag: "Destinations",
        auth: "admin",
        params: { name: Name },
        responses: { 204: null },
        errors: [404],
      },
      handler: asTenant("admin", async (event, who) => {
        await deleteDestination(svc, who.tenant, pathParam(event, "name", Name));
        return noContent();
      }),
    },
  ];
}
