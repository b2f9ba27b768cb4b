/** The route an outside system reports on an awaiting run through (with a key or the run's token). */
import { applyCallback, type CallbackCaller } from "../../../shared/app/callbacks.ts";
import { bearerOf, requireRole } from "../../../shared/app/identity.ts";
import type { Services } from "../../../shared/app/services.ts";
import { tenantOfCallbackToken } from "../../../shared/core/callback-token.ts";
import { callbackExamples } from "../examples.ts";
import { json, parseBody } from "../http.ts";
import { presentRun } from "../present.ts";
import { TaskView } from "../responses.ts";
import { CallbackBody } from "../schemas.ts";
import { routeAuthz } from "./auth.ts";
import type { ApiRoute } from "./route.ts";

export function callbacksRoutes(svc: Services): ApiRoute[] {
  const { caller } = routeAuthz(svc);
  return [
    {
      method: "POST",
      path: "/v1/callbacks",
      doc: {
        operationId: "callback",
        summary: "Report on an awaiting run",
        description: "`status` SUCCESS or FAILURE ends the run; without it the run keeps waiting.",
        tag: "Callbacks",
        auth: "runner-or-callback-token",
        body: CallbackBody,
        examples: callbackExamples,
        responses: { 200: TaskView },
        errors: [404, 409],
      },
      handler: async (event) => {
        const bearer = bearerOf(event.headers.authorization);
        const tokenTenant = bearer === undefined ? undefined : tenantOfCallbackToken(bearer);
        const callbackCaller: CallbackCaller =
          bearer !== undefined && tokenTenant !== undefined
            ? { kind: "token", tenant: tokenTenant, token: bearer }
            : { kind: "key", tenant: requireRole(await caller(event), "runner").tenant };
        const run = await applyCallback(svc, callbackCaller, parseBody(event, CallbackBody));
        return json(200, presentRun(run));
      },
    },
  ];
}
