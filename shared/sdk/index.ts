/**
 * The handler SDK: `import { defineTask, NonRetriableError } from "baton"`.
 *
 * Everything a task handler needs to declare itself and to tell Baton how a failure should be
 * treated, and nothing else: no AWS SDK, no server code, so a handler project type-checks
 * against this alone.
 *
 * @packageDocumentation
 */
export {
  BatonError,
  NonRetriableError,
  NotFoundError,
  QueueFullError,
  RateLimitedError,
  RetriableError,
  ValidationError,
} from "../core/errors.ts";
export type { RunStatus } from "../core/run.ts";
export type { RunError } from "../core/run-errors.ts";
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
