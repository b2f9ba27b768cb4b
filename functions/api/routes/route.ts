/** What a route module hands the router: a documented route with its method and handler. */
import type { Route } from "@middy/http-router";
import type { ApiEvent, ApiResult } from "../http.ts";
import type { DocumentedRoute } from "../openapi.ts";

export type Handler = (event: ApiEvent) => Promise<ApiResult>;

/** A route of the router, with the documentation the OpenAPI document is generated from. */
export type ApiRoute = DocumentedRoute & { method: Route<ApiEvent, ApiResult>["method"]; handler: Handler };
