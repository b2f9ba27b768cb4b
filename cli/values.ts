/** Parsers for command-line values: `k=v` pairs, durations, times, JSON files. */
import { readFileSync } from "node:fs";
import { InvalidArgumentError } from "@commander-js/extra-typings";
import ms from "ms";
import { LIMITS } from "../shared/core/limits.ts";
import { UsageError } from "./exit-codes.ts";

/** `k=v`: the value as JSON when it is valid JSON (`n=3`, `ok=true`, `list=[1,2]`), else as text. */
export function parseKeyValue(raw: string): [string, unknown] {
  const equals = raw.indexOf("=");
  if (equals <= 0) throw new InvalidArgumentError(`expected key=value, got "${raw}"`);
  const key = raw.slice(0, equals);
  const text = raw.slice(equals + 1);
  try {
    return [key, JSON.parse(text)];
  } catch {
    return [key, text];
  }
}

/** Collects repeated `k=v` flags into an object (the last of a key wins). */
export function collectKeyValue(
  raw: string,
  previous: Record<string, unknown> = {},
): Record<string, unknown> {
  const [key, value] = parseKeyValue(raw);
  return { ...previous, [key]: value };
}

export function collectString(raw: string, previous: string[] = []): string[] {
  return [...previous, raw];
}

/** A duration with a unit (`500ms`, `30s`, `5m`, `2h`, `1d`) in milliseconds. */
export function parseDuration(raw: string): number {
  const text = raw.trim();
  // A bare number is ambiguous (seconds? milliseconds?): ask for the unit.
  const value = /[a-z]\s*$/i.test(text) ? ms(text as ms.StringValue) : undefined;
  if (value === undefined || !Number.isFinite(value) || value < 0) {
    throw new InvalidArgumentError(
      `"${raw}" is not a duration; give a number with a unit: 500ms, 30s, 5m, 2h`,
    );
  }
  return Math.round(value);
}

/** An ISO 8601 time with a zone (the API needs one, so a local time is refused here already). */
export function parseIsoTime(raw: string): string {
  if (!/(Z|[+-]\d\d:?\d\d)$/i.test(raw) || Number.isNaN(Date.parse(raw))) {
    throw new InvalidArgumentError(`"${raw}" is not an ISO 8601 time with a zone, e.g. 2026-05-01T09:00:00Z`);
  }
  return raw;
}

export function parseLimit(raw: string): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > LIMITS.listPageSize) {
    throw new InvalidArgumentError(`"${raw}" is not a whole number from 1 to ${LIMITS.listPageSize}`);
  }
  return value;
}

/** A whole number from `min` to `max`, for flags such as --priority and --debounce-ms. */
export function wholeNumber(min: number, max: number): (raw: string) => number {
  return (raw) => {
    const value = Number(raw);
    if (raw.trim() === "" || !Number.isInteger(value) || value < min || value > max) {
      throw new InvalidArgumentError(`"${raw}" is not a whole number from ${min} to ${max}`);
    }
    return value;
  };
}

export function parsePort(raw: string): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > 65_535) {
    throw new InvalidArgumentError(`"${raw}" is not a port number (0 picks a free one)`);
  }
  return value;
}

export function parseCount(raw: string): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > 64) {
    throw new InvalidArgumentError(`"${raw}" is not a whole number from 0 to 64`);
  }
  return value;
}

/** Reads a file holding one JSON object. */
export function readJsonObject(path: string, what: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(`cannot read ${what} "${path}"${code === undefined ? "" : ` (${code})`}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${what} "${path}" is not valid JSON: ${(error as Error).message}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new UsageError(`${what} "${path}" must hold one JSON object`);
  }
  return value as Record<string, unknown>;
}
