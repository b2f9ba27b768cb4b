/** Chain records, access grants, and starting the next task when a run succeeds. */
import { createHash } from "node:crypto";
import { CHAIN_PARAM, type ChainOutcome, type ChainSpec, resolveChainParams } from "../core/chain.ts";
import { BatonError, ConflictError, NotFoundError, ValidationError } from "../core/errors.ts";
import { mintFileToken, runFileOf } from "../core/file-token.ts";
import { provenanceFrom } from "../core/lifecycle.ts";
import type { AccessGrant, ChainRecord } from "../core/ports.ts";
import type { Run } from "../core/run.ts";
import { isRunErrorCode, type RunErrorCode } from "../core/run-errors.ts";
import { isSealed, SEALED_PREFIX, type SealContext, sealedLookalikeAt } from "../core/sealed.ts";
import { tenantLimitsInForce } from "../core/tenant-limits.ts";
import type { Started, StartHow, StartInput } from "./engine.ts";
import type { TenantPrincipal } from "./identity.ts";
import type { Services } from "./services.ts";
import { tenantLimitsOf } from "./tenant-limits.ts";

export async function putChain(
  svc: Services,
  tenant: string,
  name: string,
  input: { definition: string; description?: string },
): Promise<{ chain: ChainRecord; created: boolean }> {
  if ((await svc.definitions.get(tenant, input.definition)) === undefined) {
    throw new ValidationError(`definition "${input.definition}" does not exist in tenant "${tenant}"`);
  }
  const now = svc.clock.now().toISOString();
  const previous = await svc.chains.getChain(tenant, name);
  const chain: ChainRecord = {
    tenant,
    name,
    definition: input.definition,
    ...(input.description === undefined ? {} : { description: input.description }),
    createdAt: previous?.createdAt ?? now,
    updatedAt: now,
  };
  return { chain, ...(await svc.chains.putChain(chain)) };
}

export async function getChain(svc: Services, tenant: string, name: string): Promise<ChainRecord> {
  const chain = await svc.chains.getChain(tenant, name);
  if (chain === undefined) throw new NotFoundError(`chain "${name}" does not exist`);
  return chain;
}

export async function deleteChain(svc: Services, tenant: string, name: string): Promise<void> {
  if (!(await svc.chains.deleteChain(tenant, name)))
    throw new NotFoundError(`chain "${name}" does not exist`);
}

/** The target tenant lets `sourceTenant` start its chain `chain`. */
export async function grantAccess(
  svc: Services,
  tenant: string,
  sourceTenant: string,
  chain: string,
): Promise<{ grant: AccessGrant; created: boolean }> {
  if ((await svc.chains.getChain(tenant, chain)) === undefined) {
    throw new ValidationError(`chain "${chain}" does not exist in tenant "${tenant}"`);
  }
  if ((await svc.tenants.getTenant(sourceTenant)) === undefined) {
    throw new ValidationError(`tenant "${sourceTenant}" does not exist`);
  }
  const grant: AccessGrant = { tenant, sourceTenant, chain, createdAt: svc.clock.now().toISOString() };
  return { grant, ...(await svc.chains.putGrant(grant)) };
}

export async function revokeAccess(
  svc: Services,
  tenant: string,
  sourceTenant: string,
  chain: string,
): Promise<void> {
  if (!(await svc.chains.deleteGrant(tenant, sourceTenant, chain))) {
    throw new NotFoundError(`tenant "${sourceTenant}" has no access to chain "${chain}"`);
  }
}

/** How chains start their tasks: the engine's start (passed in, as the engine calls into this module). */
export type StartFn = (
  svc: Services,
  caller: TenantPrincipal,
  input: StartInput,
  how: StartHow,
) => Promise<Started>;

/**
 * Starts the chains of a run that succeeded and records each outcome on it. The child's id comes
 * from the run and the chain's position, so emitting twice (a retry, the sweeper) starts nothing
 * new. A refused or failed chain is an outcome; the run itself stays `succeeded`.
 */
export async function emitChains(
  svc: Services,
  run: Run,
  output: unknown,
  start: StartFn,
): Promise<ChainOutcome[]> {
  const specs = run.chains ?? [];
  const outcomes: ChainOutcome[] = [];
  // The tree's limits are its root tenant's: one read for all of this run's chains, and none
  // when no chain gets as far as needing them.
  let limits: ReturnType<typeof chainTreeLimits> | undefined;
  const treeLimits = () => {
    limits ??= chainTreeLimits(svc, rootTenantOf(run));
    return limits;
  };
  for (const [index, spec] of specs.entries()) {
    outcomes.push(
      await openSpec(svc, run, spec, index).then(
        (opened) => emitChain(svc, run, output, opened, chainChildId(run, index), start, treeLimits),
        (error: unknown): ChainOutcome => ({
          name: spec.name,
          customerId: spec.customerId ?? run.tenant,
          status: "failed",
          error: {
            code: "chain_param_error",
            message: `could not decrypt: ${error instanceof Error ? error.message : String(error)}`,
          },
        }),
      ),
    );
  }
  await svc.runs.update(
    run,
    { status: "succeeded", attempts: run.attempts },
    { chainOutcomes: outcomes, sweepAt: null },
  );
  return outcomes;
}

/**
 * The id of the run a chain of `run` starts: a hash, so an id stays inside the id grammar however
 * deep the tree (appending a suffix per hop outgrew it after a dozen hops), and the same hop always
 * names the same run.
 */
export function chainChildId(run: Pick<Run, "tenant" | "id">, index: number): string {
  const digest = createHash("sha256").update(`${run.tenant}\n${run.id}\nchain\n${index}`).digest("base64url");
  return `ch-${digest.slice(0, 32)}`;
}

/** The limits a tree is held to: its root tenant's own, else the defaults (the cached read starts use). */
export async function chainTreeLimits(
  svc: Services,
  rootTenant: string,
): Promise<{ maxDepth: number; maxRuns: number }> {
  const limits = tenantLimitsInForce(await tenantLimitsOf(svc, rootTenant));
  return { maxDepth: limits.maxChainDepth, maxRuns: limits.maxChainTree };
}

/** The tenant whose decision started the run's tree: every chain in the tree needs its grant. */
export function rootTenantOf(run: Pick<Run, "tenant" | "root">): string {
  return run.root?.tenant ?? run.tenant;
}

async function emitChain(
  svc: Services,
  run: Run,
  output: unknown,
  spec: ChainSpec,
  childId: string,
  start: StartFn,
  treeLimits: () => ReturnType<typeof chainTreeLimits>,
): Promise<ChainOutcome> {
  const target = spec.customerId ?? run.tenant;
  const failed = (code: RunErrorCode, message: string): ChainOutcome => ({
    name: spec.name,
    customerId: target,
    status: "failed",
    error: { code, message },
  });
  const chain = await svc.chains.getChain(target, spec.name);
  // Checked now, at emission: a revoked grant stops every hop through it that has not started yet.
  // A hop needs the grant of the tenant that emits it and of the tenant whose decision started the
  // tree, so a run started through one grant cannot reach further than that grant.
  const rootTenant = rootTenantOf(run);
  for (const source of new Set([run.tenant, rootTenant])) {
    if (target === source) continue;
    if (chain === undefined || !(await svc.chains.hasGrant(target, source, spec.name))) {
      // The same answer whether the chain is missing or not granted: another tenant learns nothing.
      return failed(
        "chain_access_denied",
        `tenant "${target}" grants "${source}" no access to chain "${spec.name}"`,
      );
    }
  }
  if (chain === undefined) return failed("chain_not_found", `chain "${spec.name}" does not exist`);
  const limits = await treeLimits();
  const depth = (run.depth ?? 0) + 1;
  if (depth > limits.maxDepth) {
    return failed(
      "chain_depth_exceeded",
      `the child would be ${depth} hops below its tree's root; at most ${limits.maxDepth} are allowed`,
    );
  }
  let params: Record<string, unknown>;
  try {
    const fileKey = (output as { FileKey?: unknown } | null)?.FileKey;
    const secret = svc.fileTokenSecret;
    params = resolveChainParams(spec, {
      ...(typeof fileKey === "string" && secret !== undefined
        ? {
            fileToken: (seconds?: number) => {
              // A handler's output may name any key: a token names this run's own file only.
              const file = runFileOf(fileKey);
              if (file?.tenant !== run.tenant || file.taskId !== run.id) {
                throw new ValidationError(`@FileToken@: FileKey "${fileKey}" is not a file of this run`);
              }
              return mintFileToken(secret, { tenant: run.tenant, key: fileKey }, svc.clock.now(), seconds);
            },
          }
        : {}),
      output,
      params: run.params,
      userId: run.createdBy,
      taskId: run.id,
      now: svc.clock.now(),
    });
  } catch (error) {
    return failed("chain_param_error", error instanceof Error ? error.message : String(error));
  }
  // A hop through a grant starts exactly the granted chain: its params may not name further chains.
  const throughGrant = target !== run.tenant || target !== rootTenant;
  if (throughGrant && Object.hasOwn(params, CHAIN_PARAM)) {
    return failed(
      "chain_spec_forbidden",
      `a chain into another tenant's grant may not pass "${CHAIN_PARAM}": the grant covers chain "${spec.name}" only`,
    );
  }
  // The child's start trusts sealed values (only this hop seals them): none may come from a template.
  const lookalike = sealedLookalikeAt(params);
  if (lookalike !== undefined) {
    return failed(
      "chain_param_error",
      `param "${lookalike}" holds a value starting with "${SEALED_PREFIX}"; only Baton seals values`,
    );
  }
  // Encrypted values are sealed again, bound to the child: only its handler opens them.
  try {
    for (const param of spec.params) {
      if (param.encrypt !== true) continue;
      params[param.name] = await svc.crypto.seal(JSON.stringify(params[param.name]), {
        tenant: target,
        taskId: childId,
        param: param.name,
      });
    }
  } catch (error) {
    return failed(
      "chain_param_error",
      `could not encrypt: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  const caller: TenantPrincipal = {
    kind: "tenant",
    tenant: target,
    role: "runner",
    keyId: `chain:${run.tenant}`,
  };
  // A child that exists already was started (and counted) by an earlier emission.
  if ((await svc.runs.get({ tenant: target, id: childId })) === undefined) {
    const root = run.root ?? { taskId: run.id, tenant: run.tenant };
    const limit = limits.maxRuns;
    // Counted before the start, so the count never falls short of the runs: a crash in between,
    // or a start refused after counting (queue_full, validation), spends a slot without a run.
    // That errs on the safe side; a tree whose hops are often refused reaches its limit sooner.
    const counted = await svc.runs.countTreeRun(
      { tenant: root.tenant, id: root.taskId },
      limit - 1, // the root is the tree's first run and is not counted
      svc.clock.now().toISOString(),
    );
    if (!counted) {
      return failed("chain_tree_too_large", `the chain tree already holds ${limit} runs, its limit`);
    }
  }
  try {
    await start(
      svc,
      caller,
      { definition: chain.definition, params },
      { trigger: "chain", id: childId, origin: provenanceFrom(run, `chain:${spec.name}`) },
    );
  } catch (error) {
    if (!(error instanceof ConflictError)) {
      if (error instanceof BatonError) {
        return failed(isRunErrorCode(error.code) ? error.code : "start_refused", error.message);
      }
      throw error;
    }
    // Started by an earlier emission already.
  }
  return { name: spec.name, customerId: target, status: "started", childTaskId: childId };
}

/** Where a spec's encrypted value is bound on the source run. */
function specContext(run: { tenant: string; id: string }, index: number, param: string): SealContext {
  return { tenant: run.tenant, taskId: run.id, param: `chain.${index}.${param}` };
}

/**
 * Seals the `encrypt: true` values of a start's chain specs before anything is stored: the source
 * run keeps only sealed templates, bound to itself.
 */
export async function sealChainSpecs(svc: Services, run: { tenant: string; id: string }, specs: ChainSpec[]) {
  return Promise.all(
    specs.map(async (spec, index) => ({
      ...spec,
      params: await Promise.all(
        spec.params.map(async (param) =>
          param.encrypt === true
            ? {
                ...param,
                value: await svc.crypto.seal(
                  JSON.stringify(param.value),
                  specContext(run, index, param.name),
                ),
              }
            : param,
        ),
      ),
    })),
  );
}

/** A run's chain specs with their sealed templates opened (in memory only: a replay seals them again). */
export function openChainSpecs(svc: Services, run: Run): Promise<ChainSpec[]> {
  return Promise.all((run.chains ?? []).map((spec, index) => openSpec(svc, run, spec, index)));
}

/** The spec with its sealed templates opened (in memory only, to compute the child's params). */
async function openSpec(svc: Services, run: Run, spec: ChainSpec, index: number): Promise<ChainSpec> {
  return {
    ...spec,
    params: await Promise.all(
      spec.params.map(async (param) =>
        param.encrypt === true && isSealed(param.value)
          ? {
              ...param,
              value: JSON.parse(await svc.crypto.open(param.value, specContext(run, index, param.name))),
            }
          : param,
      ),
    ),
  };
}
