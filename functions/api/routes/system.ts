/** The routes about the API itself: liveness, its OpenAPI document and the dashboard. */
import { dashboardAsset, dashboardPage } from "../dashboard.ts";
import { json, pathParam } from "../http.ts";
import { type DocumentedRoute, openApiResult } from "../openapi.ts";
import { Health, OpenApiDocumentView } from "../responses.ts";
import { DashboardFile, DashboardVersion } from "../schemas.ts";
import type { ApiRoute } from "./route.ts";

/** `table` is the whole route table, which the OpenAPI document is made of. */
export function systemRoutes(table: () => readonly DocumentedRoute[]): ApiRoute[] {
  return [
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
  ];
}
