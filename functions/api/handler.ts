/** The api Lambda: middy + router over the v1 routes, with one error responder. */
import middy from "@middy/core";
import httpRouterHandler from "@middy/http-router";
import type { Context } from "aws-lambda";
import { withLogContext } from "../../shared/app/log-context.ts";
import type { Services } from "../../shared/app/services.ts";
import { inCallerTrace } from "../../shared/app/tracing.ts";
import {
  DEFAULT_FAILED_AUTH_LIMITS,
  FailedAuthLimiter,
  type FailedAuthLimits,
} from "./failed-auth-limiter.ts";
import { type ApiEvent, type ApiResult, errorResponse, json } from "./http.ts";
import { apiRoutes } from "./routes.ts";

export type ApiHandler = (event: ApiEvent, context: Context) => Promise<ApiResult>;

/** The task a path is about: /v1/tasks/{id} and what lies under it. */
const TASK_PATH = /^\/v1\/tasks\/([^/]+)/;

export interface ApiHandlerOptions {
  /** Failed authentications allowed per source address (see failed-auth-limiter.ts). */
  failedAuthLimits?: FailedAuthLimits;
}

export function createApiHandler(svc: Services, options: ApiHandlerOptions = {}): ApiHandler {
  const limiter = new FailedAuthLimiter(options.failedAuthLimits ?? DEFAULT_FAILED_AUTH_LIMITS, () =>
    svc.clock.now().getTime(),
  );
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
    const source = event.requestContext.http.sourceIp;
    const wait = limiter.retryAfter(source);
    if (wait !== undefined) {
      const refused = json(429, {
        error: "too_many_failed_authentications",
        message: `too many failed authentications from this address; try again in ${wait} s`,
      });
      refused.headers = { ...refused.headers, "retry-after": String(wait) };
      return Promise.resolve(refused);
    }
    return withLogContext(keys, () =>
      // A caller that traces its own work passes `traceparent`: the start joins its trace.
      inCallerTrace(event.headers?.traceparent, async () => {
        const result = await handler(event, context);
        if (result.statusCode === 401) limiter.failed(source);
        return result;
      }),
    );
  };
}
