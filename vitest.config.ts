import { defineConfig } from "vitest/config";

/**
 * The fast tier: tests that need nothing but Node. `npm run test:unit` runs only these two
 * projects, so no emulator starts: "unit" (pure code) and "unit-app" (the use cases, and the
 * contract suites, on the in-memory adapters of shared/memory).
 */
const APP = ["test/unit/app/**/*.test.ts", "test/contract/memory-adapters.test.ts"];
const FAST = ["test/unit/**/*.test.ts", ...APP];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    reporters: ["default"],
    projects: [
      // Nothing here waits on I/O: a test that takes seconds is stuck (a gate never opened).
      { test: { name: "unit", include: FAST, exclude: APP, testTimeout: 5_000, hookTimeout: 5_000 } },
      {
        test: {
          name: "unit-app",
          include: APP,
          testTimeout: 5_000,
          hookTimeout: 5_000,
          // Each test builds its own services and no module keeps state between tests, so the
          // files share one module graph: importing shared/app once instead of once per file
          // is most of this tier's time.
          isolate: false,
        },
      },
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
