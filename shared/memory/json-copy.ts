/**
 * What a JSON store hands back: a deep copy with `undefined` dropped (as DynamoDB's marshalling
 * with removeUndefinedValues does), so a caller can never reach stored state through a reference
 * it passed in or got back.
 */
export function jsonCopy<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
