/**
 * docs/api (TypeDoc, `npm run docs:api`) documents every export of the handler SDK and nothing
 * that is not one: adding or removing an export without regenerating the reference fails here.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";

const REPO = join(import.meta.dirname, "..", "..");

/** The names shared/sdk/index.ts exports, values and types alike. */
function sdkExports(): string[] {
  const source = readFileSync(join(REPO, "shared", "sdk", "index.ts"), "utf8");
  const names: string[] = [];
  for (const [, list] of source.matchAll(/export(?: type)? \{([^}]*)\}/g)) {
    for (const item of (list ?? "").split(",")) {
      const name = item.replace(/\btype\b/, "").trim();
      if (name !== "") names.push(name);
    }
  }
  for (const [, name] of source.matchAll(/^export (?:type|interface|class|function|const) (\w+)/gm)) {
    if (name !== undefined) names.push(name);
  }
  return names.sort();
}

it("has a page for every export of the SDK, and none for anything else", () => {
  const pages = ["classes", "functions", "interfaces", "type-aliases"].flatMap((folder) =>
    readdirSync(join(REPO, "docs", "api", folder)).map((file) => file.replace(/(-\d+)?\.md$/, "")),
  );
  expect([...new Set(pages)].sort()).toEqual(sdkExports());
  expect(readFileSync(join(REPO, "docs", "api", "README.md"), "utf8")).toContain("The handler SDK");
});
