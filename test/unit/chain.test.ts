/**
 * Chain specs (where a start's chains come from, and what makes one invalid) and chain params
 * (the tokens computed from the finished run), with the exact messages a caller gets back.
 */
import { describe, expect, it } from "vitest";
import {
  CHAIN_PARAM,
  type ChainContext,
  ChainOutcome,
  ChainParam,
  ChainSpec,
  chainSpecsOf,
  MAX_CHAINS_PER_RUN,
  resolveChainParams,
} from "../../shared/core/chain.ts";
import { ValidationError } from "../../shared/core/errors.ts";

const spec = (name: string) => ({ name });

function refusal(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return (error as Error).message;
  }
  throw new Error("expected a ValidationError");
}

describe("chainSpecsOf", () => {
  it("finds none when the start names none", () => {
    expect(chainSpecsOf(undefined, { other: 1 })).toStrictEqual([]);
    expect(CHAIN_PARAM).toBe("async-TaskChain");
    expect(MAX_CHAINS_PER_RUN).toBe(10);
  });

  it("takes the chain field, one spec or a list, with params defaulting to none", () => {
    expect(chainSpecsOf(spec("a"), {})).toStrictEqual([{ name: "a", params: [] }]);
    expect(chainSpecsOf([spec("a"), { customerId: "other", ...spec("b") }], {})).toStrictEqual([
      { name: "a", params: [] },
      { customerId: "other", name: "b", params: [] },
    ]);
  });

  it("takes the async-TaskChain param as JSON text or as an object, after the chain field", () => {
    expect(
      chainSpecsOf(spec("a"), { "async-TaskChain": JSON.stringify([spec("b"), spec("c")]) }),
    ).toStrictEqual([
      { name: "a", params: [] },
      { name: "b", params: [] },
      { name: "c", params: [] },
    ]);
    expect(chainSpecsOf(undefined, { "async-TaskChain": JSON.stringify(spec("b")) })).toStrictEqual([
      { name: "b", params: [] },
    ]);
    expect(chainSpecsOf(undefined, { "async-TaskChain": spec("b") })).toStrictEqual([
      { name: "b", params: [] },
    ]);
    expect(chainSpecsOf(undefined, { "async-TaskChain": [spec("b")] })).toStrictEqual([
      { name: "b", params: [] },
    ]);
  });

  it("refuses a param that is not JSON", () => {
    expect(refusal(() => chainSpecsOf(undefined, { "async-TaskChain": "{nope" }))).toBe(
      'param "async-TaskChain" is not valid JSON',
    );
  });

  it("allows ten chains and refuses eleven, counting both sources", () => {
    const ten = Array.from({ length: 10 }, (_, index) => spec(`c${index}`));
    expect(chainSpecsOf(ten, {})).toHaveLength(10);
    expect(refusal(() => chainSpecsOf(ten, { "async-TaskChain": spec("one-more") }))).toBe(
      "a run can start at most 10 chains",
    );
  });

  it("names the invalid chain, and where in it the problem is", () => {
    expect(refusal(() => chainSpecsOf([spec("a"), spec("has space")], {}))).toMatch(
      /^chain 2 is invalid at "name": must be 1-64 characters/,
    );
    expect(refusal(() => chainSpecsOf([{ name: "a", params: [{ name: "", value: 1 }] }], {}))).toMatch(
      /^chain 1 is invalid at "params\.0\.name": /,
    );
    expect(refusal(() => chainSpecsOf(42, {}))).toMatch(/^chain 1 is invalid: \S/);
  });

  it("refuses fields a chain spec does not have", () => {
    expect(refusal(() => chainSpecsOf({ name: "a", tenant: "x" }, {}))).toMatch(/^chain 1 is invalid: /);
  });
});

describe("the chain schemas", () => {
  it("accept every kind of param value, and encrypt as a flag", () => {
    for (const value of ["text", 3, true, null]) {
      expect(ChainParam.parse({ name: "p", value })).toStrictEqual({ name: "p", value });
    }
    expect(ChainParam.parse({ name: "p", value: "s", encrypt: true })).toStrictEqual({
      name: "p",
      value: "s",
      encrypt: true,
    });
    expect(ChainParam.safeParse({ name: "p", value: { nested: 1 } }).success).toBe(false);
    expect(ChainParam.safeParse({ name: "p", value: 1, extra: 1 }).success).toBe(false);
  });

  it("check the target tenant's id", () => {
    expect(ChainSpec.safeParse({ customerId: "Bad Tenant", name: "a" }).success).toBe(false);
    expect(ChainSpec.parse({ customerId: "other-1", name: "a" })).toStrictEqual({
      customerId: "other-1",
      name: "a",
      params: [],
    });
  });

  it("record a started or a failed chain", () => {
    const started = { name: "a", customerId: "acme", status: "started", childTaskId: "c1" };
    expect(ChainOutcome.parse(started)).toStrictEqual(started);
    const failed = {
      name: "a",
      customerId: "acme",
      status: "failed",
      error: { code: "chain_not_found", message: "m" },
    };
    expect(ChainOutcome.parse(failed)).toStrictEqual(failed);
    expect(ChainOutcome.safeParse({ ...started, status: "pending" }).success).toBe(false);
  });
});

describe("resolveChainParams", () => {
  const context: ChainContext = {
    output: { count: 3, fileName: "out.csv", meta: { region: "eu" }, "file_name-1.x": "dotted" },
    params: { source: "s3://in", n: 2 },
    userId: "k1",
    taskId: "r1",
    now: new Date("2026-03-04T23:59:00.000Z"),
  };
  const resolve = (params: Record<string, unknown>, over: Partial<ChainContext> = {}) =>
    resolveChainParams(
      ChainSpec.parse({
        name: "next",
        params: Object.entries(params).map(([name, value]) => ({ name, value })),
      }),
      { ...context, ...over },
    );

  it("keeps values that are not text", () => {
    expect(resolve({ a: 1, b: false, c: null })).toStrictEqual({ a: 1, b: false, c: null });
  });

  it("keeps plain text and a lone @", () => {
    expect(resolve({ a: "plain", b: "a@b", c: "@", d: "@@" })).toStrictEqual({
      a: "plain",
      b: "a@b",
      c: "@",
      d: "@@",
    });
  });

  it("gives a value that is exactly one token the token's own type", () => {
    expect(
      resolve({
        count: "@Output.count@",
        meta: "@Output.meta@",
        source: "@Param.source@",
        n: "@Param.n@",
        user: "@UserID@",
        task: "@TaskID@",
        date: "@DATE@",
        dotted: "@Output.file_name-1.x@",
      }),
    ).toStrictEqual({
      count: 3,
      meta: { region: "eu" },
      source: "s3://in",
      n: 2,
      user: "k1",
      task: "r1",
      date: "2026-03-04",
      dotted: "dotted",
    });
  });

  it("writes tokens inside text as text, JSON for what is not text", () => {
    expect(
      resolve({
        line: "@UserID@ ran @TaskID@ on @DATE@: @Output.count@ rows of @Output.fileName@ @Output.meta@",
        before: "x@UserID@",
        after: "@UserID@x",
      }),
    ).toStrictEqual({
      line: 'k1 ran r1 on 2026-03-04: 3 rows of out.csv {"region":"eu"}',
      before: "xk1",
      after: "k1x",
    });
  });

  it("mints file tokens, with the lifetime given", () => {
    const asked: (number | undefined)[] = [];
    const fileToken = (seconds?: number) => {
      asked.push(seconds);
      return `token-${seconds ?? "default"}`;
    };
    expect(
      resolve({ a: "@FileToken@", b: "@FileToken.3600@", c: "get ?t=@FileToken@" }, { fileToken }),
    ).toStrictEqual({ a: "token-default", b: "token-3600", c: "get ?t=token-default" });
    expect(asked).toStrictEqual([undefined, 3600, undefined]);
  });

  it("names the token that cannot be resolved, and why", () => {
    expect(refusal(() => resolve({ a: "@FileToken@" }))).toBe("@FileToken@: the run has no file output");
    expect(refusal(() => resolve({ a: "@Output@" }))).toBe("@Output@ needs a name, e.g. @Output.fileName@");
    expect(refusal(() => resolve({ a: "@Param@" }))).toBe("@Param@ needs a name, e.g. @Param.fileName@");
    expect(refusal(() => resolve({ a: "@Output.missing@" }))).toBe(
      '@Output.missing@: the run has no output "missing"',
    );
    expect(refusal(() => resolve({ a: "@Param.missing@" }))).toBe(
      '@Param.missing@: the run has no param "missing"',
    );
    expect(refusal(() => resolve({ a: "@Output.toString@" }))).toBe(
      '@Output.toString@: the run has no output "toString"',
    );
    expect(refusal(() => resolve({ a: "@Output.count@" }, { output: null }))).toBe(
      '@Output.count@: the run has no output "count"',
    );
    expect(refusal(() => resolve({ a: "@Output.length@" }, { output: "text" }))).toBe(
      '@Output.length@: the run has no output "length"',
    );
    expect(refusal(() => resolve({ a: "@Nope@" }))).toBe(
      "@Nope@ is not a known token (Output, Param, UserID, DATE, TaskID, FileToken)",
    );
    expect(refusal(() => resolve({ a: "see @Nope.key@" }))).toBe(
      "@Nope.key@ is not a known token (Output, Param, UserID, DATE, TaskID, FileToken)",
    );
  });
});
