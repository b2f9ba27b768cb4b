/**
 * User JSON (params, output, once results) is stored as a JSON string, not as a DynamoDB map:
 * DynamoDB maps cannot hold every JSON document — nesting is limited to 32 levels, numbers to
 * 38 digits within ±1E125, and map keys may not be empty — and any of those would turn a valid
 * request into a failed write. A string holds any JSON, and costs no more to store.
 */
export function toJsonAttribute(value: unknown): string {
  return JSON.stringify(value ?? null);
}

export function fromJsonAttribute(value: unknown): unknown {
  return typeof value === "string" ? JSON.parse(value) : value;
}
