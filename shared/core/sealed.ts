/**
 * Sealed values: what an encrypted chain param or a destination's credential looks like wherever
 * it is stored. Only the handler's `ctx.params` (or, for credentials, the worker's upload) ever
 * sees the clear text; the API shows a placeholder, or nothing.
 */
export const SEALED_PREFIX = "baton:sealed:v1:";
export const SEALED_PLACEHOLDER = "[encrypted]";

/** A sealed chain param opens only for the same tenant, task and param. */
export interface ParamSealContext {
  tenant: string;
  taskId: string;
  param: string;
}

/** A destination's sealed credential opens only for the same tenant, destination and kind of credential. */
export interface CredentialSealContext {
  tenant: string;
  destination: string;
  credential: "password" | "privateKey";
}

/** The context a sealed value is bound to; a value sealed under one never opens under another. */
export type SealContext = ParamSealContext | CredentialSealContext;

/**
 * The bytes a sealed value is bound to (AES-GCM additional data; with KMS, also its encryption
 * context). Params keep the form they were first sealed with; credentials carry a leading tag.
 */
export function sealAad(context: SealContext): Buffer {
  return Buffer.from(
    JSON.stringify(
      "taskId" in context
        ? [context.tenant, context.taskId, context.param]
        : ["destination", context.tenant, context.destination, context.credential],
    ),
  );
}

export function isSealed(value: unknown): value is string {
  return typeof value === "string" && value.startsWith(SEALED_PREFIX);
}

/** A copy with every sealed value (at any depth) replaced by the placeholder. */
export function maskSealed<T>(value: T): T {
  if (isSealed(value)) return SEALED_PLACEHOLDER as T;
  if (Array.isArray(value)) return value.map(maskSealed) as T;
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, maskSealed(inner)])) as T;
  }
  return value;
}

/**
 * Where `value` holds a string that looks sealed (a dotted path; "" for the value itself), or
 * undefined. Only Baton seals: a client value that merely looks sealed is refused, never opened
 * or trusted to skip validation. Iterative, so a deep value cannot overflow the stack.
 */
export function sealedLookalikeAt(value: unknown): string | undefined {
  const pending: Array<[unknown, string]> = [[value, ""]];
  while (pending.length > 0) {
    const [inner, path] = pending.pop() as [unknown, string];
    if (isSealed(inner)) return path;
    if (inner === null || typeof inner !== "object") continue;
    for (const [key, child] of Object.entries(inner)) {
      pending.push([child, path === "" ? key : `${path}.${key}`]);
    }
  }
  return undefined;
}
