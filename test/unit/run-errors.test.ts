/** The run error codes: one closed set, documented in docs/lifecycle.md and the OpenAPI document. */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { buildOpenApiDocument } from "../../functions/api/openapi.ts";
import { apiRoutes } from "../../functions/api/routes.ts";
import type { Services } from "../../shared/app/services.ts";
import { ChainOutcome } from "../../shared/core/chain.ts";
import { RUN_ERROR_CODES, RUN_ERRORS, RunError } from "../../shared/core/run-errors.ts";

/** The rows of the error code table in docs/lifecycle.md: code → the Retried column. */
function documentedCodes(): Map<string, string> {
  const text = readFileSync(new URL("../../docs/lifecycle.md", import.meta.url), "utf8");
  const section = text.split("### Error codes")[1]?.split("\n## ")[0] ?? "";
  const rows = new Map<string, string>();
  for (const match of section.matchAll(/^\| `([a-z_]+)` \| [^|]+ \| ([^|]+) \|$/gm)) {
    rows.set(match[1] ?? "", (match[2] ?? "").trim());
  }
  return rows;
}

describe("run error codes", () => {
  it("are each documented in docs/lifecycle.md, with whether they are retried, and nothing else is", () => {
    const rows = documentedCodes();
    expect([...rows.keys()].sort()).toEqual([...RUN_ERROR_CODES].sort());
    for (const code of RUN_ERROR_CODES) {
      expect(rows.get(code)?.startsWith(RUN_ERRORS[code].retried ? "yes" : "no"), code).toBe(true);
    }
  });

  it("are listed in the OpenAPI document, and runs' and chain outcomes' errors name that list", () => {
    const document = buildOpenApiDocument(apiRoutes({} as Services));
    const schemas = document.components?.schemas ?? {};
    const listed = schemas.RunErrorCode as { enum?: string[]; description?: string };
    expect(listed.enum).toEqual(RUN_ERROR_CODES);
    for (const code of RUN_ERROR_CODES) expect(listed.description).toContain(`\`${code}\``);
    const text = JSON.stringify(schemas.TaskView);
    // TaskView.error.code and TaskView.chainOutcomes[].error.code.
    expect(text.match(/"\$ref":"#\/components\/schemas\/RunErrorCode"/g)).toHaveLength(2);
  });

  it("read a stored error with a code of another version as unrecognized, keeping the code", () => {
    expect(RunError.parse({ code: "worker_lost", message: "gone" })).toEqual({
      code: "worker_lost",
      message: "gone",
    });
    expect(RunError.parse({ code: "lease_expired", message: "gone" })).toEqual({
      code: "unrecognized",
      message: "lease_expired: gone",
    });
    const outcome = ChainOutcome.parse({
      name: "next",
      customerId: "acme",
      status: "failed",
      error: { code: "chain_quota_exceeded", message: "too many" },
    });
    expect(outcome.error).toEqual({ code: "unrecognized", message: "chain_quota_exceeded: too many" });
    // Not a way around the shape: a message is still required.
    expect(RunError.safeParse({ code: "worker_lost" }).success).toBe(false);
  });

  it("read an unknown code even without a message, or not a string, rather than fail the run's read", () => {
    expect(RunError.parse({ code: "lease_expired" })).toEqual({
      code: "unrecognized",
      message: "lease_expired: ",
    });
    expect(RunError.parse({ code: 42, message: "odd" })).toEqual({
      code: "unrecognized",
      message: "42: odd",
    });
    // Known only as text: a code that is no string is not one of ours, whatever it prints as.
    expect(RunError.parse({ code: ["worker_lost"], message: "odd" })).toEqual({
      code: "unrecognized",
      message: "worker_lost: odd",
    });
  });

  it("refuse what is no error at all, rather than read it as unrecognized", () => {
    for (const stored of [null, undefined, "worker_lost", 42, [], {}, { message: "no code" }]) {
      expect(RunError.safeParse(stored).success, JSON.stringify(stored)).toBe(false);
    }
  });
});
