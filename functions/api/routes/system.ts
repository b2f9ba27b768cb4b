/** The routes about the API itself: health, its OpenAPI document and the dashboard. */
import { healthCheck } from "../../../shared/app/health.ts";
import type { Services } from "../../../shared/app/services.ts";
import { dashboardAsset, dashboardPage } from "../dashboard.ts";
import { json, pathParam, unavailable } from "../http.ts";
import { type DocumentedRoute, openApiResult } from "../openapi.ts";
import { Health, HealthUnavailable, OpenApiDocumentView } from "../responses.ts";
import { DashboardFile, DashboardVersion } from "../schemas.ts";
import type { ApiRoute } from "./route.ts";

/** `table` is the whole route table, which the OpenAPI document is made of. */
export function systemRoutes(svc: Services, table: () => readonly DocumentedRoute[]): ApiRoute[] {
  // One per route table, so one per api instance: its cache is what keeps the open route cheap.
  const check = healthCheck(svc);
  return [
    {
      method: "GET",
      path: "/health",
      doc: {
        operationId: "health",
        summary: "Whether the API can reach what it needs",
        description:
          "Probes the database (a read of every table), the run queue and the files bucket, in " +
          "parallel, each with a short timeout. One answer serves every request for 2 s. For a load " +
          "balancer's or an alarm's health check: 200 when all answer, 503 (with Retry-After) naming " +
          "the ones that did not.",
        tag: "Meta",
        auth: "none",
        responses: { 200: Health, 503: HealthUnavailable },
      },
      handler: async () => {
        const { healthy, dependencies } = await check();
        if (healthy) return json(200, { ok: true, status: "ok", dependencies } satisfies Health);
        const down = Object.entries(dependencies)
          .filter(([, state]) => state !== "ok")
          .map(([name]) => name);
        return unavailable({
          error: "unavailable",
          message: `${down.join(", ")} did not answer; try again shortly`,
          dependencies,
        } satisfies HealthUnavailable);
      },
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
      handler: async () => openApiResult(table()),
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
      handler: async () => dashboardPage(svc.eventsUrl),
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
  ];
}
