/**
 * Why a run failed, or a chain it started did not: the closed set of error codes written into a
 * run's `error` and a chain outcome's `error`, each with what it means and whether the run is
 * tried again. Clients branch on the code (like trigger.dev's TaskRunError codes); the message is
 * for people. The OpenAPI document lists the codes with these meanings, and docs/lifecycle.md
 * has the same table (a test checks it).
 */
import { z } from "zod";

interface RunErrorInfo {
  /** One line for people: when the code is written. */
  meaning: string;
  /** True when the run goes back to the queue (while attempts are left) rather than ending. */
  retried: boolean;
}

export const RUN_ERRORS = {
  handler_error: {
    meaning: "The handler threw; the run is tried again after a backoff while attempts are left.",
    retried: true,
  },
  non_retriable: {
    meaning: "The handler threw a NonRetriableError: the run fails at once, whatever attempts are left.",
    retried: false,
  },
  timed_out: {
    meaning:
      "An attempt ran longer than the definition's timeoutSeconds; the run ends timed_out (with retryOnTimeout, only once no attempts are left).",
    retried: false,
  },
  worker_lost: {
    meaning:
      "The worker stopped renewing its lease (crash, lost host); queued again while attempts are left, else failed.",
    retried: true,
  },
  handler_not_found: {
    meaning: "The run's handler is not registered in the worker.",
    retried: false,
  },
  invalid_params: {
    meaning: "The handler's params schema refused the run's params.",
    retried: false,
  },
  sealed_param_error: {
    meaning: "An encrypted param could not be decrypted for the handler.",
    retried: false,
  },
  invalid_output: {
    meaning: "The handler returned something that is not JSON.",
    retried: false,
  },
  output_too_large: {
    meaning: "The handler's output is larger than a run may store.",
    retried: false,
  },
  callback_failure: {
    meaning: "The outside system reported FAILURE on POST /v1/callbacks.",
    retried: false,
  },
  callback_timed_out: {
    meaning: "An awaiting run got no final callback before its callback deadline; it ends timed_out.",
    retried: false,
  },
  queue_full: {
    meaning:
      "A delayed, scheduled or chained start found its definition's waiting line full (maxQueueLength), or its tenant's (maxWaiting).",
    retried: false,
  },
  rate_limited: {
    meaning:
      "A scheduled or chained start came faster than its tenant's start rate (startsPerSecond, burst) allows.",
    retried: false,
  },
  step_failed: {
    meaning: "A step of a workflow run ended without succeeding; the steps after it do not start.",
    retried: false,
  },
  step_failed_to_start: {
    meaning: "A step of a workflow run could not be started (its start was refused).",
    retried: false,
  },
  chain_access_denied: {
    meaning: "Chain outcome: the target tenant has no such chain or grants this tenant no access to it.",
    retried: false,
  },
  chain_not_found: {
    meaning: "Chain outcome: the chain record does not exist in this tenant.",
    retried: false,
  },
  chain_param_error: {
    meaning: "Chain outcome: the chain's params could not be computed, decrypted or sealed.",
    retried: false,
  },
  chain_spec_forbidden: {
    meaning:
      "Chain outcome: a hop through another tenant's grant tried to pass chain specs (async-TaskChain) to its child; a grant covers its one chain only.",
    retried: false,
  },
  chain_depth_exceeded: {
    meaning:
      "Chain outcome: the child would be deeper below its tree's root than the chain depth limit (default 8).",
    retried: false,
  },
  chain_tree_too_large: {
    meaning:
      "Chain outcome: the chain tree already holds as many runs as the chain tree size limit (default 1,000).",
    retried: false,
  },
  unknown_definition: {
    meaning: "Chain outcome: the chain names a definition that does not exist.",
    retried: false,
  },
  validation_failed: {
    meaning: "Chain outcome: the chained start was refused as invalid (the message says why).",
    retried: false,
  },
  payload_too_large: {
    meaning: "Chain outcome: the chained start's params are too large.",
    retried: false,
  },
  destination_not_found: {
    meaning: "ctx.files.upload named a destination the tenant has not registered.",
    retried: false,
  },
  destination_auth_failed: {
    meaning: "The upload destination refused the credentials.",
    retried: false,
  },
  destination_refused: {
    meaning: "The upload destination refused the path (folder, permission, quota).",
    retried: false,
  },
  destination_untrusted: {
    meaning: "The upload destination's TLS certificate or SSH host key did not match.",
    retried: false,
  },
  destination_forbidden_address: {
    meaning: "The upload destination resolves to a loopback, private or link-local address (refused on AWS).",
    retried: false,
  },
  destination_credentials_unreadable: {
    meaning: "The destination's sealed credentials could not be opened.",
    retried: false,
  },
  destination_unreachable: {
    meaning: "The upload destination did not answer, refused the connection or asked to try later.",
    retried: true,
  },
  invalid_file_name: {
    meaning: "A file name given to ctx.files is not 1-128 letters, digits, '.', '_' or '-'.",
    retried: false,
  },
  start_refused: {
    meaning: "Chain outcome: the chained start was refused for a reason without a code of its own.",
    retried: false,
  },
  unrecognized: {
    meaning:
      "Read back only: a code written by another version of Baton that this one does not know; the message starts with it.",
    retried: false,
  },
} as const satisfies Record<string, RunErrorInfo>;

export type RunErrorCode = keyof typeof RUN_ERRORS;
export const RUN_ERROR_CODES = Object.keys(RUN_ERRORS) as [RunErrorCode, ...RunErrorCode[]];

export function isRunErrorCode(code: string): code is RunErrorCode {
  return Object.hasOwn(RUN_ERRORS, code);
}

export const RunErrorCode = z
  .enum(RUN_ERROR_CODES)
  .describe(
    [
      "Why the run failed (or a chain it started did not); branch on this, not on the message.",
      ...RUN_ERROR_CODES.map(
        (code) => `- \`${code}\`${RUN_ERRORS[code].retried ? " (retried)" : ""}: ${RUN_ERRORS[code].meaning}`,
      ),
    ].join("\n"),
  );

/**
 * Strict on write, lenient on read. What this version writes is typed RunErrorCode, so it cannot
 * write another code. But a run item may have been written by another version (an older one, or a
 * newer one before a rollback) with a code this one does not know; failing the parse would make
 * the whole run unreadable (every GET of it a 500, the sweeper stuck on it). Such an error reads
 * back as `unrecognized`, the stored code kept at the front of the message; the item itself is
 * not rewritten.
 */
function readableError(stored: unknown): unknown {
  if (typeof stored !== "object" || stored === null || !("code" in stored)) return stored;
  const { code, message } = stored as { code: unknown; message?: unknown };
  if (typeof code === "string" && isRunErrorCode(code)) return stored;
  return { code: "unrecognized", message: `${String(code)}: ${String(message ?? "")}` };
}

/** A run's (or a chain outcome's) error, as stored; see readableError for codes of other versions. */
export const RunError = z.preprocess(readableError, z.object({ code: RunErrorCode, message: z.string() }));
export type RunError = z.infer<typeof RunError>;
