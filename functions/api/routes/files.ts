/** The routes that hand out short-lived download links to the files of runs. */
import type { z } from "zod";
import { revokeFileTokens, taskFileLink, tokenFileLink } from "../../../shared/app/files.ts";
import type { Services } from "../../../shared/app/services.ts";
import { json, noContent, pathParam, redirect } from "../http.ts";
import { FileLinkView } from "../responses.ts";
import { FileName, FileToken, TaskId } from "../schemas.ts";
import { routeAuthz } from "./auth.ts";
import type { ApiRoute } from "./route.ts";

export function filesRoutes(svc: Services): ApiRoute[] {
  const { asTenant } = routeAuthz(svc);
  return [
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
      method: "DELETE",
      path: "/v1/tasks/{id}/file-tokens",
      doc: {
        operationId: "revokeFileTokens",
        summary: "Revoke every file token issued so far for a run's files (they get 401 at once)",
        description: "Tokens minted later (a chain hop re-emitted) work again.",
        tag: "Files",
        auth: "runner",
        params: { id: TaskId },
        responses: { 204: null },
        errors: [404],
      },
      handler: asTenant("runner", async (event, who) => {
        await revokeFileTokens(svc, who, pathParam(event, "id", TaskId));
        return noContent();
      }),
    },
    {
      method: "GET",
      path: "/v1/files/{token}",
      doc: {
        operationId: "getFileByToken",
        summary: "Download the one file a file token names (302)",
        description:
          "The token is the credential; a tampered, expired or revoked token, or one whose run is gone, gets 401.",
        tag: "Files",
        auth: "none",
        params: { token: FileToken },
        responses: { 302: null },
        errors: [401, 404],
      },
      // The token is the credential: no key needed.
      handler: async (event) => redirect(await tokenFileLink(svc, pathParam(event, "token", FileToken))),
    },
  ];
}
