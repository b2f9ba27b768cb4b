/**
 * The v1 route table: one module per resource under routes/, each route parsing its input,
 * calling one use case and shaping the answer. The OpenAPI document is generated from this table.
 */
import type { Services } from "../../shared/app/services.ts";
import { bulkRoutes } from "./routes/bulk.ts";
import { callbacksRoutes } from "./routes/callbacks.ts";
import { chainsRoutes } from "./routes/chains.ts";
import { definitionsRoutes } from "./routes/definitions.ts";
import { destinationRoutes } from "./routes/destinations.ts";
import { filesRoutes } from "./routes/files.ts";
import type { ApiRoute } from "./routes/route.ts";
import { systemRoutes } from "./routes/system.ts";
import { tasksRoutes } from "./routes/tasks.ts";
import { tenantsRoutes } from "./routes/tenants.ts";

export type { ApiRoute } from "./routes/route.ts";

export function apiRoutes(svc: Services): ApiRoute[] {
  // The OpenAPI route documents this very array (and caches its serialization per array).
  const routes: ApiRoute[] = [
    ...systemRoutes(svc, () => routes),
    ...tenantsRoutes(svc),
    ...definitionsRoutes(svc),
    ...chainsRoutes(svc),
    ...bulkRoutes(svc),
    ...tasksRoutes(svc),
    ...filesRoutes(svc),
    ...callbacksRoutes(svc),
    ...destinationRoutes(svc),
  ];
  return routes;
}
