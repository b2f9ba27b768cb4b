/**
 * Chains: when a run succeeds, start the next task through a named chain record, in the same
 * tenant or (with the target's access grant) in another, with params computed from the run.
 */
import { z } from "zod";
import { ValidationError } from "./errors.ts";
import { Name } from "./names.ts";
import { RunError } from "./run-errors.ts";
import { TenantId } from "./tenant.ts";

export const ChainParam = z.strictObject({
  name: z.string().min(1).max(128),
  value: z.union([z.string().max(16_384), z.number(), z.boolean(), z.null()]),
  encrypt: z.boolean().optional(),
});

export const ChainSpec = z.strictObject({
  customerId: TenantId.optional(),
  name: Name,
  params: z.array(ChainParam).max(100).default([]),
});
export type ChainSpec = z.infer<typeof ChainSpec>;

export const MAX_CHAINS_PER_RUN = 10;
/** The parameter that may carry a chain spec, as a JSON string or an object. */
export const CHAIN_PARAM = "async-TaskChain";

export const ChainOutcome = z.object({
  name: z.string(),
  customerId: z.string(),
  status: z.enum(["started", "failed"]),
  childTaskId: z.string().optional(),
  error: RunError.optional(),
});
export type ChainOutcome = z.infer<typeof ChainOutcome>;

/** The chain specs of a start: its `chain` field and the `async-TaskChain` param. Throws ValidationError. */
export function chainSpecsOf(chainField: unknown, params: Record<string, unknown>): ChainSpec[] {
  const found: unknown[] = [];
  if (chainField !== undefined) found.push(...(Array.isArray(chainField) ? chainField : [chainField]));
  const fromParam = params[CHAIN_PARAM];
  if (fromParam !== undefined) {
    let value = fromParam;
    if (typeof value === "string") {
      try {
        value = JSON.parse(value);
      } catch {
        throw new ValidationError(`param "${CHAIN_PARAM}" is not valid JSON`);
      }
    }
    found.push(...(Array.isArray(value) ? value : [value]));
  }
  if (found.length > MAX_CHAINS_PER_RUN)
    throw new ValidationError(`a run can start at most ${MAX_CHAINS_PER_RUN} chains`);
  return found.map((spec, index) => {
    const parsed = ChainSpec.safeParse(spec);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ValidationError(
        `chain ${index + 1} is invalid${issue?.path.length ? ` at "${issue.path.join(".")}"` : ""}: ${issue?.message ?? "bad shape"}`,
      );
    }
    return parsed.data;
  });
}

export interface ChainContext {
  /** Mints a token for the run's file output (`@FileToken@`, or `@FileToken.<seconds>@`). */
  fileToken?: (seconds?: number) => string;
  output: unknown;
  params: Record<string, unknown>;
  userId: string;
  taskId: string;
  now: Date;
}

const TOKEN = /@([A-Za-z]+)(?:\.([A-Za-z0-9_.-]+))?@/g;

/**
 * Computes a chain's params. `@Output.X@`, `@Param.X@`, `@UserID@`, `@DATE@` (UTC date) and
 * `@TaskID@` are replaced; a value that is exactly one token keeps the token's JSON type. An
 * unknown token or a missing value is an error naming it.
 */
export function resolveChainParams(spec: ChainSpec, context: ChainContext): Record<string, unknown> {
  const resolved: Record<string, unknown> = {};
  for (const param of spec.params) {
    const value = param.value;
    if (typeof value !== "string") {
      resolved[param.name] = value;
      continue;
    }
    const whole = /^@([A-Za-z]+)(?:\.([A-Za-z0-9_.-]+))?@$/.exec(value);
    resolved[param.name] = whole
      ? tokenValue(whole[1] ?? "", whole[2], context)
      : value.replace(TOKEN, (_match, kind: string, key: string | undefined) => {
          const token = tokenValue(kind, key, context);
          return typeof token === "string" ? token : JSON.stringify(token);
        });
  }
  return resolved;
}

function tokenValue(kind: string, key: string | undefined, context: ChainContext): unknown {
  const shown = `@${kind}${key === undefined ? "" : `.${key}`}@`;
  switch (kind) {
    case "Output":
    case "Param": {
      const source = kind === "Output" ? context.output : context.params;
      if (key === undefined) throw new ValidationError(`${shown} needs a name, e.g. @${kind}.fileName@`);
      if (source === null || typeof source !== "object" || !Object.hasOwn(source, key)) {
        throw new ValidationError(
          `${shown}: the run has no ${kind === "Output" ? "output" : "param"} "${key}"`,
        );
      }
      return (source as Record<string, unknown>)[key];
    }
    case "UserID":
      return context.userId;
    case "TaskID":
      return context.taskId;
    case "DATE":
      return context.now.toISOString().slice(0, 10);
    case "FileToken":
      if (context.fileToken === undefined) throw new ValidationError(`${shown}: the run has no file output`);
      return context.fileToken(key === undefined ? undefined : Number(key));
    default:
      throw new ValidationError(
        `${shown} is not a known token (Output, Param, UserID, DATE, TaskID, FileToken)`,
      );
  }
}
