/** Bulk actions on runs: start one (cancel or replay what a filter matches) and follow it. */
import { getBulk, startBulk } from "../../../shared/app/bulk.ts";
import type { Services } from "../../../shared/app/services.ts";
import { BULK_LIMITS } from "../../../shared/core/bulk.ts";
import { json, parseBody, pathParam } from "../http.ts";
import { presentBulk } from "../present.ts";
import { BulkView, StartedBulkView } from "../responses.ts";
import { BulkId, BulkTaskBody } from "../schemas.ts";
import { routeAuthz } from "./auth.ts";
import type { ApiRoute } from "./route.ts";

/** Listed before the tasks' routes, so `/v1/tasks/bulk/…` never reads as a task id. */
export function bulkRoutes(svc: Services): ApiRoute[] {
  const { asTenant } = routeAuthz(svc);
  return [
    {
      method: "POST",
      path: "/v1/tasks/bulk",
      doc: {
        operationId: "startBulkAction",
        summary: "Cancel or replay every run a filter matches, in the background",
        description: `Answers at once with the bulk's id; workers then go through the matching runs a page (${BULK_LIMITS.pageSize} runs) at a time, and \`GET /v1/tasks/bulk/{bulkId}\` shows the progress. Only runs created before the request are touched. \`dryRun: true\` counts without acting. A tenant runs at most ${BULK_LIMITS.maxRunning} bulks at once (429 beyond). Replays count against the tenant's start rate.`,
        tag: "Tasks",
        auth: "runner",
        body: BulkTaskBody,
        responses: { 202: StartedBulkView },
        errors: [429],
      },
      handler: asTenant("runner", async (event, who) => {
        const { bulk, matched, matchedAll } = await startBulk(svc, who, parseBody(event, BulkTaskBody));
        return json(202, { bulkId: bulk.id, matched, matchedAll });
      }),
    },
    {
      method: "GET",
      path: "/v1/tasks/bulk/{bulkId}",
      doc: {
        operationId: "getBulkAction",
        summary: "Read a bulk action's progress",
        tag: "Tasks",
        auth: "runner",
        params: { bulkId: BulkId },
        responses: { 200: BulkView },
        errors: [404],
      },
      handler: asTenant("runner", async (event, who) =>
        json(200, presentBulk(await getBulk(svc, who, pathParam(event, "bulkId", BulkId)))),
      ),
    },
  ];
}
