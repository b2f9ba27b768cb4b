/** The routes of runs: start, list, read, cancel and set a run's subtext. */
import { attemptHistory } from "../../../shared/app/attempt-history.ts";
import { setSubtext } from "../../../shared/app/callbacks.ts";
import { bearerOf, requireRole } from "../../../shared/app/identity.ts";
import { getTaskWithReadToken, issueReadToken } from "../../../shared/app/read-tokens.ts";
import { replayTask } from "../../../shared/app/replay.ts";
import { EVENTS_MAX_STREAM_MS } from "../../../shared/app/run-watch.ts";
import type { Services } from "../../../shared/app/services.ts";
import {
  COUNTS_DEFAULT_HOURS,
  COUNTS_MAX_DAYS,
  COUNTS_MAX_PER_SHARD,
  countTasks,
} from "../../../shared/app/task-counts.ts";
import {
  cancelTask,
  cancelTaskTree,
  getTask,
  listTasks,
  startedByTask,
  startTask,
} from "../../../shared/app/tasks.ts";
import { withoutStack } from "../../../shared/core/attempts.ts";
import { UnauthorizedError } from "../../../shared/core/errors.ts";
import {
  isReadToken,
  READ_TOKEN_DEFAULT_SECONDS,
  READ_TOKEN_MAX_SECONDS,
} from "../../../shared/core/read-token.ts";
import type { Run } from "../../../shared/core/run.ts";
import { openingEvents, parseLastEventId, sseFrame, sseRetry } from "../../../shared/core/run-events.ts";
import { patchTaskExamples, startTaskExamples } from "../examples.ts";
import { type ApiEvent, json, parseBody, parseOptionalBody, parseQuery, pathParam } from "../http.ts";
import {
  presentCancelled,
  presentCounts,
  presentRun,
  presentRunSummary,
  presentStarted,
  presentStartedRun,
} from "../present.ts";
import {
  CancelledTask,
  ReadTokenView,
  StartedRunPage,
  StartedTask,
  TaskCountsView,
  TaskPage,
  TaskView,
} from "../responses.ts";
import {
  CancelQuery,
  CountTasksQuery,
  EventsQuery,
  ListQuery,
  ListTasksQuery,
  PatchTaskBody,
  ReadTokenBody,
  ReplayTaskBody,
  StartTaskBody,
  TaskId,
} from "../schemas.ts";
import { routeAuthz } from "./auth.ts";
import type { ApiRoute } from "./route.ts";

export function tasksRoutes(svc: Services): ApiRoute[] {
  const { asTenant, caller } = routeAuthz(svc);
  /** A run for its owner's runner key, or for a read token of exactly this run. */
  const readRun = async (event: ApiEvent, id: string, bearer: string | undefined): Promise<Run> => {
    if (bearer !== undefined && isReadToken(bearer)) return getTaskWithReadToken(svc, bearer, id);
    return getTask(svc, requireRole(await caller(event), "runner"), id);
  };
  return [
    {
      method: "POST",
      path: "/v1/tasks",
      doc: {
        operationId: "startTask",
        summary: "Start a run of a definition",
        description:
          "Answers `queued`, `waiting` (for a concurrency slot) or `scheduled` (`at`/`after`, or a trailing `debounce` window).",
        tag: "Tasks",
        auth: "runner",
        body: StartTaskBody,
        examples: startTaskExamples,
        responses: { 202: StartedTask },
        errors: [409, 429],
      },
      handler: asTenant("runner", async (event, who) => {
        const { run, created, debounced } = await startTask(svc, who, parseBody(event, StartTaskBody));
        return json(202, presentStarted(run, created, debounced));
      }),
    },
    {
      method: "GET",
      path: "/v1/tasks",
      doc: {
        operationId: "listTasks",
        summary: "List runs, newest first",
        description:
          "Summaries: no params, output, logs, chains or steps, and only the newest end of the feedback; `GET /v1/tasks/{id}` has everything.",
        tag: "Tasks",
        auth: "runner",
        query: ListTasksQuery,
        responses: { 200: TaskPage },
      },
      handler: asTenant("runner", async (event, who) => {
        const { status, definition, limit, cursor } = parseQuery(event, ListTasksQuery);
        const page = await listTasks(svc, who, {
          ...(status ? { status } : {}),
          ...(definition ? { definition } : {}),
          ...(limit ? { limit } : {}),
          ...(cursor ? { cursor } : {}),
        });
        return json(200, { items: page.items.map(presentRunSummary), cursor: page.cursor ?? null });
      }),
    },
    {
      method: "GET",
      path: "/v1/tasks/counts",
      doc: {
        operationId: "countTasks",
        summary: "Count recent runs by status and by definition",
        description: `The runs created since \`since\` (default the last ${COUNTS_DEFAULT_HOURS} h, at most ${COUNTS_MAX_DAYS} days back), read from the listing indexes: no scan and no counter written by runs. Every status is counted on its own; an unfinished run's status is read from its item (about 0.5 read units per unfinished run). A very busy window is read in part (at most ${COUNTS_MAX_PER_SHARD} entries per index shard): \`complete\` is then false.`,
        tag: "Tasks",
        auth: "runner",
        query: CountTasksQuery,
        responses: { 200: TaskCountsView },
      },
      handler: asTenant("runner", async (event, who) => {
        const { since } = parseQuery(event, CountTasksQuery);
        return json(200, presentCounts(await countTasks(svc, who, since === undefined ? {} : { since })));
      }),
    },
    {
      method: "GET",
      path: "/v1/tasks/{id}",
      doc: {
        operationId: "getTask",
        summary: "Read a run",
        description:
          "With `attemptHistory`: each attempt's times, outcome and error, and the handler's stack trace for an attempt whose handler threw.",
        tag: "Tasks",
        auth: "runner-or-read-token",
        params: { id: TaskId },
        responses: { 200: TaskView },
        errors: [404],
      },
      handler: async (event) => {
        const id = pathParam(event, "id", TaskId);
        const bearer = bearerOf(event.headers.authorization);
        const run = await readRun(event, id, bearer);
        const history = await attemptHistory(svc, run);
        // A read token is a frontend's: it sees what went wrong, not the handler's stack trace
        // (server paths and code), which only the tenant's own keys read.
        const shown = bearer !== undefined && isReadToken(bearer) ? history.map(withoutStack) : history;
        return json(200, presentRun(run, shown));
      },
    },
    {
      method: "GET",
      path: "/v1/tasks/{id}/events",
      doc: {
        operationId: "streamTaskEvents",
        summary: "Watch a run: its changes as Server-Sent Events until it ends",
        description: `Events: \`snapshot\` first, then \`status\`, \`attempt\`, \`progress\`, \`feedback\`, \`subtext\`, \`log\`, and \`end\` when the run ends, after which the stream closes. Each frame's \`id\` is the position in the run's log lines: a client reconnecting with \`Last-Event-ID\` gets a new snapshot and only the log lines it has not seen. A stream also closes after ${EVENTS_MAX_STREAM_MS / 60_000} minutes (an EventSource reconnects by itself). Served live by \`npm run dev\` and, on AWS, by the events URL (the \`EventsUrl\` output, a Lambda function URL with response streaming); the HTTP API cannot stream, so there this route answers the opening frames only, with \`retry\`, and an EventSource reconnects: polling. docs/events.md.`,
        tag: "Tasks",
        auth: "runner-or-read-token",
        params: { id: TaskId },
        query: EventsQuery,
        responses: { 200: { text: ["text/event-stream"] } },
        errors: [404],
      },
      handler: async (event) => {
        const id = pathParam(event, "id", TaskId);
        const { token } = parseQuery(event, EventsQuery);
        if (token !== undefined && !isReadToken(token)) {
          throw new UnauthorizedError(
            "only a read token goes in ?token=; send API keys in the Authorization header",
          );
        }
        const run = await readRun(event, id, token ?? bearerOf(event.headers.authorization));
        const seen = parseLastEventId(event.headers["last-event-id"]);
        const frames = openingEvents(run, seen).map(({ event: runEvent, id: frameId }) =>
          sseFrame(runEvent, frameId),
        );
        return {
          statusCode: 200,
          headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store" },
          body: sseRetry() + frames.join(""),
        };
      },
    },
    {
      method: "POST",
      path: "/v1/tasks/{id}/read-token",
      doc: {
        operationId: "issueReadToken",
        summary: "Issue a short-lived token that reads this run and nothing else, for a frontend",
        description: `The token (\`Authorization: Bearer <token>\`) reads \`GET /v1/tasks/{id}\` and \`GET /v1/tasks/{id}/events\` (also as \`?token=\`) of this run only; no other route takes it. It lasts \`seconds\` (default ${READ_TOKEN_DEFAULT_SECONDS}, at most ${READ_TOKEN_MAX_SECONDS}). The body is optional.`,
        tag: "Tasks",
        auth: "runner",
        params: { id: TaskId },
        body: ReadTokenBody,
        responses: { 201: ReadTokenView },
        errors: [404],
      },
      handler: asTenant("runner", async (event, who) => {
        const id = pathParam(event, "id", TaskId);
        const { seconds } = parseOptionalBody(event, ReadTokenBody);
        const { token, expiresAt } = await issueReadToken(svc, who, id, seconds);
        return json(201, { token, expiresAt: expiresAt.toISOString() });
      }),
    },
    {
      method: "GET",
      path: "/v1/tasks/{id}/started",
      doc: {
        operationId: "listStartedTasks",
        summary:
          "List the runs a run started (chain hops, workflow steps, handler starts) and its replays, oldest first",
        tag: "Tasks",
        auth: "runner",
        params: { id: TaskId },
        query: ListQuery,
        responses: { 200: StartedRunPage },
        errors: [404],
      },
      handler: asTenant("runner", async (event, who) => {
        const { limit, cursor } = parseQuery(event, ListQuery);
        const page = await startedByTask(svc, who, pathParam(event, "id", TaskId), {
          ...(limit ? { limit } : {}),
          ...(cursor ? { cursor } : {}),
        });
        return json(200, {
          items: page.items.map((run) => presentStartedRun(run, who.tenant)),
          cursor: page.cursor ?? null,
        });
      }),
    },
    {
      method: "POST",
      path: "/v1/tasks/{id}/cancel",
      doc: {
        operationId: "cancelTask",
        summary: "Cancel a run (and, with ?tree=true, the runs below it in your tenant)",
        tag: "Tasks",
        auth: "runner",
        params: { id: TaskId },
        query: CancelQuery,
        responses: { 200: CancelledTask },
        errors: [404, 409],
      },
      handler: asTenant("runner", async (event, who) => {
        const id = pathParam(event, "id", TaskId);
        if (parseQuery(event, CancelQuery).tree === "true") {
          // An ended run is no 409 here: what it started may still be running.
          const { run, cancelled, complete } = await cancelTaskTree(svc, who, id);
          return json(200, { ...presentCancelled(run), tree: { cancelled, complete } });
        }
        return json(200, presentCancelled(await cancelTask(svc, who, id)));
      }),
    },
    {
      method: "POST",
      path: "/v1/tasks/{id}/replay",
      doc: {
        operationId: "replayTask",
        summary: "Start a run again: same definition, the original's params (with overrides) and chains",
        description:
          "A new run naming the original (`replayOf`); the original is unchanged. The body is optional. A failed workflow run replays from its failed step with `fromFailedStep: true`.",
        tag: "Tasks",
        auth: "runner",
        params: { id: TaskId },
        body: ReplayTaskBody,
        responses: { 202: StartedTask },
        errors: [404, 409, 429],
      },
      handler: asTenant("runner", async (event, who) => {
        const id = pathParam(event, "id", TaskId);
        const input = parseOptionalBody(event, ReplayTaskBody);
        const { run, created } = await replayTask(svc, who, id, input);
        return json(202, presentStarted(run, created));
      }),
    },
    {
      method: "PATCH",
      path: "/v1/tasks/{id}",
      doc: {
        operationId: "setTaskSubtext",
        summary: "Set a run's subtext, whatever its status",
        tag: "Tasks",
        auth: "runner",
        params: { id: TaskId },
        body: PatchTaskBody,
        examples: patchTaskExamples,
        responses: { 200: TaskView },
        errors: [404],
      },
      handler: asTenant("runner", async (event, who) => {
        const id = pathParam(event, "id", TaskId);
        const { subtext } = parseBody(event, PatchTaskBody);
        return json(200, presentRun(await setSubtext(svc, who.tenant, id, subtext)));
      }),
    },
  ];
}
