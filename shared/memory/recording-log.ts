import type { Log } from "../core/ports.ts";

export interface LogEntry {
  level: keyof Log;
  message: string;
  /** The extra objects of the line, merged. */
  fields: Record<string, unknown>;
}

/**
 * A Log that keeps its lines instead of printing them, so a test stays quiet and can read them;
 * `forward` also gets every line (to watch a test's log while debugging it).
 */
export class RecordingLog implements Log {
  readonly entries: LogEntry[] = [];
  readonly #forward: Log | undefined;

  constructor(options: { forward?: Log } = {}) {
    this.#forward = options.forward;
  }

  debug(message: string, ...extra: Record<string, unknown>[]): void {
    this.#add("debug", message, extra);
  }

  info(message: string, ...extra: Record<string, unknown>[]): void {
    this.#add("info", message, extra);
  }

  warn(message: string, ...extra: Record<string, unknown>[]): void {
    this.#add("warn", message, extra);
  }

  error(message: string, ...extra: Record<string, unknown>[]): void {
    this.#add("error", message, extra);
  }

  #add(level: keyof Log, message: string, extra: Record<string, unknown>[]): void {
    this.entries.push({ level, message, fields: Object.assign({}, ...extra) });
    this.#forward?.[level](message, ...extra);
  }
}
