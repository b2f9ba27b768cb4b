/**
 * The handler SDK: `import { defineTask, NonRetriableError } from "baton"`.
 *
 * Everything a task handler needs to declare itself and to tell Baton how a failure should be
 * treated, and nothing else: no AWS SDK, no server code, so a handler project type-checks
 * against this alone.
 *
 * @packageDocumentation
 */
import type { RunStatus as CoreRunStatus } from "../core/run.ts";
import type { RunError as CoreRunError } from "../core/run-errors.ts";

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

// Aliases rather than `export type { … }`: in core these names are values too (a constant and a
// schema), and a re-export would make the rolled-up declarations promise values that this entry
// does not export at run time.
/** Where a run is in its lifecycle. */
export type RunStatus = CoreRunStatus;
/** Why a run failed, as its handler or Baton recorded it. */
export type RunError = CoreRunError;
