/** The api Lambda: middy + router over the v1 routes, with one error responder. */
import middy from "@middy/core";
import httpRouterHandler from "@middy/http-router";
import type { Context } from "aws-lambda";
import type { Services } from "../../shared/app/services.ts";
import { type ApiEvent, type ApiResult, errorResponse } from "./http.ts";
import { apiRoutes } from "./routes.ts";

export type ApiHandler = (event: ApiEvent, context: Context) => Promise<ApiResult>;

export function createApiHandler(svc: Services): ApiHandler {
  const router = httpRouterHandler<ApiEvent, ApiResult>({ routes: apiRoutes(svc) });
  const handler = middy<ApiEvent, ApiResult>(router).onError((request) => {
    request.response = errorResponse(request.error, svc.log, request.context.awsRequestId);
  });
  return (event, context) => handler(event, context);
}
