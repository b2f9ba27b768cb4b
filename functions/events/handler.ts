/**
 * GET /v1/tasks/{id}/events as a live stream of Server-Sent Events: locally on the dev server's
 * own port (local/http-server.ts), on AWS behind a Lambda function URL with response streaming
 * (functions/events/lambda-stream.ts), since an HTTP API cannot stream.
 *
 * Who may watch is the API's decision, not this file's: the request is first put to the api
 * handler as GET /v1/tasks/{id} with the same credentials, so its key checks, read tokens, tenant
 * isolation and failed-authentication limiter apply unchanged, and any refusal is its answer.
 */
import type { Context } from "aws-lambda";
import { EVENTS_MAX_STREAM_MS, watchRun } from "../../shared/app/run-watch.ts";
import type { Services } from "../../shared/app/services.ts";
import { isReadToken, verifyReadToken } from "../../shared/core/read-token.ts";
import { parseLastEventId } from "../../shared/core/run-events.ts";
import type { ApiHandler } from "../api/handler.ts";
import { type ApiEvent, type ApiResult, json } from "../api/http.ts";
import { EventsQuery } from "../api/schemas.ts";

/** The path this handler streams; anything else is the api's. */
const EVENTS_PATH = /^\/v1\/tasks\/([^/]+)\/events\/?$/;

export function isEventsPath(path: string): boolean {
  return EVENTS_PATH.test(path);
}

/** Where a stream goes: a Node response locally, a Lambda response stream on AWS. */
export interface EventStreamResponse {
  /** Status and headers, once, before any write. */
  start(statusCode: number, headers: Record<string, string>): void;
  write(text: string): Promise<void>;
  end(): void;
  /** Aborted when the client has gone away. */
  closed: AbortSignal;
}

export type EventsHandler = (
  event: ApiEvent,
  context: Context,
  response: EventStreamResponse,
) => Promise<void>;

export interface EventsHandlerOptions {
  pollMs?: number;
  maxStreamMs?: number;
}

/** A browser frontend on any origin may open a stream: credentials are explicit (a token or a key), never cookies. */
const CORS = {
  "access-control-allow-origin": "*",
  "access-control-allow-methods": "GET, OPTIONS",
  "access-control-allow-headers": "authorization, last-event-id",
  "access-control-max-age": "600",
};

const STREAM_HEADERS = {
  ...CORS,
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-store",
  // Tells nginx-like proxies in front of a self-hosted server not to buffer the stream.
  "x-accel-buffering": "no",
};

/** Stops this long before the Lambda's own timeout, so the stream ends with its closing comment. */
const LAMBDA_MARGIN_MS = 10_000;

export function createEventsHandler(
  svc: Services,
  api: ApiHandler,
  options: EventsHandlerOptions = {},
): EventsHandler {
  return async (event, context, response) => {
    const answer = (result: ApiResult) => {
      response.start(result.statusCode ?? 200, {
        ...CORS,
        ...Object.fromEntries(Object.entries(result.headers ?? {}).map(([k, v]) => [k, String(v)])),
      });
      if (result.body !== undefined) void response.write(result.body);
      response.end();
    };
    const method = event.requestContext.http.method;
    const id = EVENTS_PATH.exec(event.rawPath)?.[1];
    if (method === "OPTIONS") return answer({ statusCode: 204, headers: { "cache-control": "no-store" } });
    // Only the one route: the events URL is no second way into the rest of the API (around the
    // HTTP API's throttling). Anything else answers as the API does for a route it lacks.
    if (id === undefined || method !== "GET") {
      return answer(
        json(404, {
          error: "route_not_found",
          message:
            "the events URL serves GET /v1/tasks/{id}/events only; GET /openapi.json on the API lists the routes",
        }),
      );
    }
    // The API route's own query schema (strict): an unknown parameter is a 400 here too, not a
    // stream that ignores it.
    const query = EventsQuery.safeParse(event.queryStringParameters ?? {});
    if (!query.success) {
      return answer(
        json(400, {
          error: "validation_failed",
          message: `query string is invalid: ${query.error.issues[0]?.message ?? "unknown problem"}`,
        }),
      );
    }
    const bearer = credentialOf(event);
    if ("refused" in bearer) return answer(bearer.refused);
    const read = await api(asGetTask(event, id, bearer.authorization), context);
    if (read.statusCode !== 200) return answer(read);
    const { tenant } = JSON.parse(read.body ?? "{}") as { tenant: string };

    const now = svc.clock.now().getTime();
    const deadlines = [now + (options.maxStreamMs ?? EVENTS_MAX_STREAM_MS)];
    deadlines.push(now + Math.max(0, context.getRemainingTimeInMillis() - LAMBDA_MARGIN_MS));
    // A read token stops reading when it expires, even inside an open stream.
    const token = bearer.authorization.slice("Bearer ".length);
    if (isReadToken(token) && svc.fileTokenSecret !== undefined) {
      try {
        deadlines.push(verifyReadToken(svc.fileTokenSecret, token, svc.clock.now()).expiresAt.getTime());
      } catch {
        deadlines.push(now); // it expired since the API checked it: the opening frames only
      }
    }
    const seenLogs = parseLastEventId(event.headers["last-event-id"]);
    response.start(200, STREAM_HEADERS);
    try {
      await watchRun(
        svc,
        { tenant, id },
        {
          ...(seenLogs === undefined ? {} : { seenLogs }),
          deadline: new Date(Math.min(...deadlines)),
          signal: response.closed,
          ...(options.pollMs === undefined ? {} : { pollMs: options.pollMs }),
        },
        (text) => response.write(text),
      );
    } catch (error) {
      // The status line is sent: a failed read ends the stream, and the client reconnects.
      svc.log.warn("event stream ended by an error", { taskId: id, error: String(error) });
    } finally {
      response.end();
    }
  };
}

/**
 * The credentials of a stream request: the Authorization header, or `?token=` because a browser's
 * EventSource cannot send headers. Only a read token may ride in the URL: URLs end up in logs and
 * browser history, and a read token is short-lived and reads one run.
 */
function credentialOf(event: ApiEvent): { authorization: string } | { refused: ApiResult } {
  const token = new URLSearchParams(event.rawQueryString).get("token");
  if (token === null) return { authorization: event.headers.authorization ?? "" };
  if (!isReadToken(token)) {
    return {
      refused: json(401, {
        error: "unauthorized",
        message:
          "only a read token (POST /v1/tasks/{id}/read-token) goes in ?token=; send API keys in the Authorization header",
      }),
    };
  }
  return { authorization: `Bearer ${token}` };
}

/** The stream request as the API's GET /v1/tasks/{id}, with the same caller and source address. */
function asGetTask(event: ApiEvent, id: string, authorization: string): ApiEvent {
  const path = `/v1/tasks/${id}`;
  const { queryStringParameters: _query, body: _body, ...rest } = event;
  return {
    ...rest,
    rawPath: path,
    rawQueryString: "",
    headers: { ...event.headers, authorization },
    isBase64Encoded: false,
    requestContext: {
      ...event.requestContext,
      http: { ...event.requestContext.http, method: "GET", path },
    },
  };
}
