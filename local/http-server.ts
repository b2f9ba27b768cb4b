/**
 * Serves the api Lambda handler over plain HTTP, translating each request into the API Gateway
 * HTTP API (payload v2) event the Lambda receives on AWS, and the result back.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Context } from "aws-lambda";
import type { ApiHandler } from "../functions/api/handler.ts";
import type { ApiEvent } from "../functions/api/http.ts";
import { type EventsHandler, isEventsPath } from "../functions/events/handler.ts";
import { LIMITS } from "../shared/core/limits.ts";

/** API Gateway rejects bodies over 10 MB before the Lambda sees them; so does this server. */
const MAX_BODY_BYTES = 10 * 1024 * 1024;

export async function serveApi(
  handler: ApiHandler,
  options: {
    port: number;
    host?: string;
    /** GET /v1/tasks/{id}/events, streamed on the same port (on AWS: the events function URL). */
    events?: EventsHandler;
  },
): Promise<Server> {
  const server = createServer((req, res) => {
    const { events } = options;
    const streamed =
      events !== undefined && isEventsPath(new URL(req.url ?? "/", "http://localhost").pathname);
    (streamed ? stream(events, req, res) : respond(handler, req, res)).catch((error: unknown) => {
      if (res.headersSent) {
        res.end();
        return;
      }
      res.statusCode = 500;
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ error: "internal_error", message: String(error) }));
    });
  });
  // Requests Node's parser refuses before any handler sees them (headers or URL over 16 KiB,
  // malformed HTTP) get the API's error shape too, as API Gateway answers them itself on AWS.
  server.on("clientError", (error: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return;
    const tooLarge = error.code === "HPE_HEADER_OVERFLOW";
    const body = JSON.stringify(
      tooLarge
        ? { error: "headers_too_large", message: "request line and headers exceed 16 KiB" }
        : { error: "bad_request", message: "malformed HTTP request" },
    );
    socket.end(
      `HTTP/1.1 ${tooLarge ? "431 Request Header Fields Too Large" : "400 Bad Request"}\r\n` +
        `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host ?? "127.0.0.1", () => resolve());
  });
  return server;
}

async function respond(handler: ApiHandler, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) {
      res.writeHead(413, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: "payload_too_large", message: "request body exceeds 10 MB" }));
      return;
    }
    chunks.push(chunk as Buffer);
  }
  const body = Buffer.concat(chunks);
  const result = await handler(toEvent(req, body), lambdaContext());
  // A Lambda answer over 6 MB never reaches the caller: API Gateway answers 502 instead. So here.
  if (Buffer.byteLength(JSON.stringify(result), "utf8") > LIMITS.lambdaResponseBytes) {
    res.writeHead(502, { "content-type": "application/json" });
    res.end(JSON.stringify({ message: "Internal Server Error" }));
    return;
  }
  res.writeHead(result.statusCode ?? 200, normalizeHeaders(result.headers));
  res.end(
    result.body === undefined
      ? undefined
      : Buffer.from(result.body, result.isBase64Encoded ? "base64" : "utf8"),
  );
}

/** An event stream: written as it comes (chunked), never buffered into one answer. */
async function stream(events: EventsHandler, req: IncomingMessage, res: ServerResponse): Promise<void> {
  req.resume(); // a GET has no body worth reading
  const closed = new AbortController();
  res.on("close", () => closed.abort());
  // No Lambda timeout here: the stream's own maximum duration is what ends it.
  await events(toEvent(req, Buffer.alloc(0)), lambdaContext("baton-events-local", 24 * 3_600_000), {
    start: (statusCode, headers) => {
      res.writeHead(statusCode, headers);
      res.flushHeaders();
    },
    write: (text) =>
      new Promise<void>((resolve) => {
        if (res.writableEnded || res.destroyed) return resolve();
        res.write(text, () => resolve());
      }),
    end: () => {
      if (!res.writableEnded) res.end();
    },
    closed: closed.signal,
  });
}

function toEvent(req: IncomingMessage, body: Buffer): ApiEvent {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(",") : value;
  }
  return apiGatewayEvent({
    method: req.method ?? "GET",
    url: req.url ?? "/",
    headers,
    body,
    protocol: `HTTP/${req.httpVersion}`,
    sourceIp: req.socket.remoteAddress ?? "127.0.0.1",
  });
}

/** The event API Gateway (HTTP API, payload 2.0, `$default` route) hands the api Lambda. */
export function apiGatewayEvent(request: {
  method: string;
  /** Path and query, as sent. */
  url: string;
  /** Lowercase names. */
  headers: Record<string, string>;
  body?: Buffer;
  protocol?: string;
  sourceIp?: string;
}): ApiEvent {
  const url = new URL(request.url, "http://localhost");
  const { headers } = request;
  const body = request.body ?? Buffer.alloc(0);
  const query: Record<string, string> = {};
  for (const [name, value] of url.searchParams)
    query[name] = query[name] === undefined ? value : `${query[name]},${value}`;
  const method = request.method;
  const now = new Date();
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    ...(url.searchParams.size === 0 ? {} : { queryStringParameters: query }),
    requestContext: {
      accountId: "000000000000",
      apiId: "local",
      domainName: headers.host ?? "localhost",
      domainPrefix: "local",
      http: {
        method,
        // API Gateway passes the path still percent-encoded; so does this.
        path: url.pathname,
        protocol: request.protocol ?? "HTTP/1.1",
        sourceIp: request.sourceIp ?? "127.0.0.1",
        userAgent: headers["user-agent"] ?? "",
      },
      requestId: randomUUID(),
      routeKey: "$default",
      stage: "$default",
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    ...(body.length === 0 ? {} : { body: body.toString("utf8") }),
    isBase64Encoded: false,
  };
}

function normalizeHeaders(headers: Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) out[name] = String(value);
  return out;
}

/** What Lambda passes a handler beside the event; `remainingMs` is the invocation's time left. */
export function lambdaContext(functionName = "baton-api-local", remainingMs = 30_000): Context {
  const requestId = randomUUID();
  const deadline = Date.now() + remainingMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
    memoryLimitInMB: "512",
    awsRequestId: requestId,
    logGroupName: "local",
    logStreamName: "local",
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
