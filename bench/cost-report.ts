/**
 * The cost and ceilings document of `npm run bench -- --cost --json`, and the same figures as
 * the rows of the human table: price and usage per kind of task, the ceilings the hottest
 * partition keys put on one deployment, the hottest keys, and what a heartbeat costs on a large
 * run. docs/PERFORMANCE.md ("Ceilings") explains each figure.
 */
import type { HeartbeatFigures, Kind, Measured } from "./baton.ts";
import {
  type Ceiling,
  dynamoCeiling,
  type HotKey,
  hotKeys,
  type KeyScope,
  lowest,
  type Names,
  round,
  sqsGroupCeiling,
} from "./hot-keys.ts";
import { pricePerMillion } from "./prices.ts";

export interface CostRow {
  usdPerMillion: number;
  wru: number;
  rru: number;
  /** AWS calls per task, idle polling left out. */
  calls: number;
  sqsRequests: number;
  lambdaInvocations: number;
  /** Write units per task the counter placed on a partition key (equals `wru` when every unit was placed). */
  keyedWru?: number;
  /** Of those, units per task it could not place on a key (key "?"). */
  unplacedWru?: number;
}

export type CeilingName =
  | "tenantTasksPerSecond"
  | "definitionStartsPerSecond"
  | "limitedDefinitionStartsPerSecond"
  | "namedQueueRunsPerSecond"
  | "globalTasksPerSecond";

export interface CostReport {
  cost: Record<Kind | "floor", CostRow>;
  ceilings: Record<CeilingName, number | null>;
  /** What bounds each ceiling, and in which workload it was measured. */
  ceilingBounds: Record<CeilingName, { workload: Kind; boundBy: string }>;
  /** The hottest keys shared by more than one run, per workload, hottest first. */
  hottestKeys: Array<HotKey & { workload: Kind }>;
  heartbeat: HeartbeatFigures;
  measured: { at: string; tasksPerKind: number; machine: string };
}

const costRow = (m: Measured): CostRow => {
  const keyed = (match: (key: string) => boolean) =>
    round(m.keyUnits.filter((k) => match(k.key)).reduce((sum, k) => sum + k.units, 0) / m.tasks);
  return {
    usdPerMillion: round(pricePerMillion(m.usage)),
    wru: round(m.usage.writeUnits),
    rru: round(m.usage.readUnits),
    calls: round(m.callsPerTask),
    sqsRequests: round(m.usage.sqsRequests),
    lambdaInvocations: round(m.usage.lambdaInvocations),
    ...(m.keyUnits.length === 0 ? {} : { keyedWru: keyed(() => true), unplacedWru: keyed((k) => k === "?") }),
  };
};

/** Every scope but a run's own keys: what tasks of one definition share. */
const SHARED: KeyScope[] = ["definition", "queue", "tenant", "global"];

/** SQS requests per task on the FIFO queue (named queues: one message group per queue). */
const fifoRequests = (m: Measured) =>
  Object.entries(m.sqsByQueue)
    .filter(([queue]) => queue.endsWith(".fifo"))
    .reduce((sum, [, n]) => sum + n, 0);

export function costReport(
  kinds: Record<Kind, Measured>,
  floor: Measured,
  heartbeat: HeartbeatFigures,
  names: Names,
  measured: CostReport["measured"],
): CostReport {
  const keys = Object.fromEntries(
    Object.entries(kinds).map(([kind, m]) => [kind, hotKeys(m.keyUnits, m.tasks, names)]),
  ) as Record<Kind, HotKey[]>;
  const bounds: Record<CeilingName, { workload: Kind; ceiling: Ceiling }> = {
    tenantTasksPerSecond: { workload: "plain", ceiling: dynamoCeiling(keys.plain, ["tenant", "global"]) },
    definitionStartsPerSecond: { workload: "plain", ceiling: dynamoCeiling(keys.plain, SHARED) },
    limitedDefinitionStartsPerSecond: {
      workload: "limitedWide",
      ceiling: dynamoCeiling(keys.limitedWide, SHARED),
    },
    namedQueueRunsPerSecond: {
      workload: "queued",
      ceiling: lowest(dynamoCeiling(keys.queued, SHARED), sqsGroupCeiling(fifoRequests(kinds.queued))),
    },
    // The whole deployment: only keys every tenant shares bound it; the lowest over all kinds.
    globalTasksPerSecond: (Object.keys(keys) as Kind[])
      .map((workload) => ({ workload, ceiling: dynamoCeiling(keys[workload], ["global"]) }))
      .reduce((low, c) =>
        c.ceiling.perSecond !== null &&
        (low.ceiling.perSecond === null || c.ceiling.perSecond < low.ceiling.perSecond)
          ? c
          : low,
      ),
  };
  const names_ = Object.keys(bounds) as CeilingName[];
  return {
    cost: {
      ...(Object.fromEntries(Object.entries(kinds).map(([kind, m]) => [kind, costRow(m)])) as Record<
        Kind,
        CostRow
      >),
      floor: costRow(floor),
    },
    ceilings: Object.fromEntries(
      names_.map((n) => {
        const perSecond = bounds[n].ceiling.perSecond;
        return [n, perSecond === null ? null : Math.floor(perSecond)];
      }),
    ) as Record<CeilingName, number | null>,
    ceilingBounds: Object.fromEntries(
      names_.map((n) => [n, { workload: bounds[n].workload, boundBy: bounds[n].ceiling.boundBy }]),
    ) as CostReport["ceilingBounds"],
    hottestKeys: (Object.entries(keys) as [Kind, HotKey[]][]).flatMap(([workload, list]) =>
      list
        .filter((k) => k.scope !== "run")
        .slice(0, 4)
        .map((k) => ({ ...k, wruPerTask: round(k.wruPerTask, 3), workload })),
    ),
    heartbeat,
    measured,
  };
}

/** The ceilings, hottest keys and heartbeat rows of the human table. */
export function costTableLines(report: CostReport, labels: Record<Kind, string>): string[] {
  const lines = [
    "\nCeilings of one deployment: 1,000 WRU/s per partition key (table or GSI) over the hottest key's units per task (for a sharded key, per shard); SQS FIFO: 300 requests/s per message group:\n",
    "| ceiling | tasks/s | workload | bound by |",
    "|---|---|---|---|",
  ];
  for (const [name, value] of Object.entries(report.ceilings) as [CeilingName, number | null][]) {
    const bound = report.ceilingBounds[name];
    lines.push(
      `| ${name} | ${value === null ? "unbounded" : value.toLocaleString("en")} | ${labels[bound.workload]} | ${bound.boundBy} |`,
    );
  }
  lines.push(
    "\nHottest partition keys shared by more than one run, per kind of task (write units per task on one key; sharded keys per shard):\n",
    "| kind | table / index | key | shared by | WRU / task | keys seen |",
    "|---|---|---|---|---|---|",
  );
  for (const k of report.hottestKeys)
    lines.push(
      `| ${labels[k.workload]} | ${k.table}${k.index ? ` / ${k.index}` : ""} | \`${k.key}\` | ${k.scope} | ${k.wruPerTask.toFixed(3)} | ${k.keys} |`,
    );
  const h = report.heartbeat;
  lines.push(
    `\nOne write on a running run of ${(h.runBytes / 1024).toFixed(0)} KB (params and logs), WRU: heartbeat ${h.wru.heartbeat}, progress ${h.wru.progress}, feedback ${h.wru.feedback}`,
  );
  return lines;
}
