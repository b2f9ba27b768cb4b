/** The api Lambda: middy + router over the v1 routes, with one error responder. */
import middy from "@middy/core";
import httpRouterHandler from "@middy/http-router";
import type { Context } from "aws-lambda";
import { withLogContext } from "../../shared/app/log-context.ts";
import type { Services } from "../../shared/app/services.ts";
import { type ApiEvent, type ApiResult, errorResponse } from "./http.ts";
import { apiRoutes } from "./routes.ts";

export type ApiHandler = (event: ApiEvent, context: Context) => Promise<ApiResult>;

/** The task a path is about: /v1/tasks/{id} and what lies under it. */
const TASK_PATH = /^\/v1\/tasks\/([^/]+)/;

export function createApiHandler(svc: Services): ApiHandler {
  const router = httpRouterHandler<ApiEvent, ApiResult>({ routes: apiRoutes(svc) });
  const handler = middy<ApiEvent, ApiResult>(router).onError((request) => {
    request.response = errorResponse(request.error, svc.log, request.context.awsRequestId);
  });
  return (event, context) => {
    // Every line logged for this request names it; authentication adds the tenant.
    const taskId = TASK_PATH.exec(event.rawPath)?.[1];
    const keys = {
      requestId: context.awsRequestId,
      route: `${event.requestContext.http.method} ${event.rawPath}`,
      ...(taskId === undefined ? {} : { taskId }),
    };
    return withLogContext(keys, () => handler(event, context));
  };
}
