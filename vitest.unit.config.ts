import { defineConfig } from "vitest/config";

// The pure unit tests alone: no globalSetup, so no DynamoDB or SQS emulator starts. Used by
// `npm run test:unit` and by the mutation run (stryker.config.json), which runs these tests
// hundreds of times over.
export default defineConfig({
  test: {
    include: ["test/unit/**/*.test.ts"],
    pool: "forks",
    reporters: ["default"],
  },
});
