/**
 * The handler SDK: `import { defineTask, NonRetriableError } from "baton"`.
 *
 * Everything a task handler needs to declare itself and to tell Baton how a failure should be
 * treated, and nothing else: no AWS SDK, no server code, so a handler project type-checks
 * against this alone.
 *
 * @packageDocumentation
 */
import type { RunErrorCode as CoreRunErrorCode } from "../core/run-errors.ts";

export {
  BatonError,
  NonRetriableError,
  NotFoundError,
  QueueFullError,
  RateLimitedError,
  RetriableError,
  ValidationError,
} from "../core/errors.ts";
export {
  defineTask,
  type FeedbackOptions,
  HandlerRegistry,
  type StoredFile,
  type TaskContext,
  type TaskFiles,
  type TaskHandler,
  type TaskInfo,
  type TaskStarter,
  type TaskStartOptions,
  type UploadedFile,
} from "../core/task.ts";
export type { TaskModule } from "../core/task-module.ts";

// Written out here rather than re-exported: in core these names are also values (a constant and
// a schema) that this entry does not export, and the reference should show the statuses and
// fields themselves. test/unit/sdk-types.test.ts checks they stay equal to core's.
/** Where a run is in its lifecycle (docs/lifecycle.md). */
export type RunStatus =
  | "scheduled"
  | "waiting"
  | "queued"
  | "running"
  | "awaiting"
  | "succeeded"
  | "failed"
  | "cancelled"
  | "timed_out";
/** The closed set of codes a run's error carries (docs/lifecycle.md lists each with its meaning). */
export type RunErrorCode = CoreRunErrorCode;
/** Why a run failed: a code to branch on and a message for people. */
export interface RunError {
  code: RunErrorCode;
  message: string;
}
