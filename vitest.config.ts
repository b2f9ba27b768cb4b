import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";

/**
 * The fast tier: tests that need nothing but Node (pure code, and the use cases and contract
 * suites on the in-memory adapters of shared/memory). `npm run test:unit` runs only the "unit"
 * projects, so no emulator starts.
 */
const FAST = ["test/unit/**/*.test.ts", "test/contract/memory-adapters.test.ts"];
/** Fast tests that replace a module with vi.mock: each needs a module graph of its own. */
const MOCKING = ["test/unit/route-inputs.test.ts"];
/** Nothing in the fast tier waits on I/O: a test that takes seconds is stuck (a gate never opened). */
const FAST_TIMEOUTS = { testTimeout: 5_000, hookTimeout: 5_000 };

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Vitest's default is one worker fewer than the cores: one on a two-core CI machine, where the
    // emulated files mostly wait on processes and timers. Two side by side take 9 minutes, not 14.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    reporters: ["default"],
    projects: [
      {
        test: {
          name: "unit",
          include: FAST,
          exclude: MOCKING,
          ...FAST_TIMEOUTS,
          // The files share one module graph: importing shared/app, zod and the rest once rather
          // than once per file is most of this tier's time. Each test builds its own services
          // and restores what it stubs; a file that needs vi.mock goes in MOCKING instead.
          isolate: false,
        },
      },
      { test: { name: "unit-isolated", include: MOCKING, ...FAST_TIMEOUTS } },
      {
        test: {
          name: "emulated",
          include: ["test/**/*.test.ts"],
          exclude: FAST,
          // One set of emulators per test run; each test file makes its own tables and queue on
          // them. A project's global setup runs only when one of its files is selected.
          globalSetup: ["test/support/global-setup.ts"],
        },
      },
    ],
  },
});
