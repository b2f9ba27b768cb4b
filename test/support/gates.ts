/**
 * Named gates a test handler awaits and the test opens, so a run reaches a state (a progress
 * step, a log line) exactly when the test says, with no sleeps. Opening a gate before anyone
 * waits at it lets the later wait pass at once.
 */
export interface Gates {
  gate(key: string): Promise<void>;
  release(key: string): void;
  /** Opens every gate someone waits at (a test that failed midway leaves its run at one). */
  releaseAll(): void;
}

export function gates(): Gates {
  const released = new Set<string>();
  const waiting = new Map<string, () => void>();
  return {
    gate: (key) =>
      new Promise<void>((resolve) => {
        if (released.has(key)) resolve();
        else waiting.set(key, resolve);
      }),
    release(key) {
      released.add(key);
      waiting.get(key)?.();
    },
    releaseAll() {
      for (const key of [...waiting.keys()]) this.release(key);
    },
  };
}
