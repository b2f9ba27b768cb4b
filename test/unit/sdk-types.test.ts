/**
 * The handler SDK spells out a few types that core derives from values (so the package's
 * declarations and reference show them plainly): they must stay the same types as core's.
 * Checked by the type checker (`tsc --noEmit` in `npm test`); the run-time part is trivial.
 */
import { expectTypeOf, it } from "vitest";
import type { RunStatus as CoreRunStatus } from "../../shared/core/run.ts";
import type { RunError as CoreRunError } from "../../shared/core/run-errors.ts";
import type { RunError, RunStatus } from "../../shared/sdk/index.ts";

it("spells RunStatus and RunError exactly as core defines them", () => {
  expectTypeOf<RunStatus>().toEqualTypeOf<CoreRunStatus>();
  expectTypeOf<RunError>().toEqualTypeOf<CoreRunError>();
});
