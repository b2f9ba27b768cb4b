/** Chain records, access grants, and starting the next task when a run succeeds. */
import { type ChainOutcome, type ChainSpec, resolveChainParams } from "../core/chain.ts";
import { BatonError, ConflictError, NotFoundError, ValidationError } from "../core/errors.ts";
import { mintFileToken, runFileOf } from "../core/file-token.ts";
import { provenanceFrom } from "../core/lifecycle.ts";
import type { AccessGrant, ChainRecord } from "../core/ports.ts";
import type { Run } from "../core/run.ts";
import { isRunErrorCode, type RunErrorCode } from "../core/run-errors.ts";
import { isSealed, SEALED_PREFIX, type SealContext, sealedLookalikeAt } from "../core/sealed.ts";
import type { Started, StartHow, StartInput } from "./engine.ts";
import type { TenantPrincipal } from "./identity.ts";
import type { Services } from "./services.ts";

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
  for (const [index, spec] of specs.entries()) {
    outcomes.push(
      await openSpec(svc, run, spec, index).then(
        (opened) => emitChain(svc, run, output, opened, `${run.id}-k${index}`, start),
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

async function emitChain(
  svc: Services,
  run: Run,
  output: unknown,
  spec: ChainSpec,
  childId: string,
  start: StartFn,
): Promise<ChainOutcome> {
  const target = spec.customerId ?? run.tenant;
  const failed = (code: RunErrorCode, message: string): ChainOutcome => ({
    name: spec.name,
    customerId: target,
    status: "failed",
    error: { code, message },
  });
  const chain = await svc.chains.getChain(target, spec.name);
  if (
    target !== run.tenant &&
    (chain === undefined || !(await svc.chains.hasGrant(target, run.tenant, spec.name)))
  ) {
    // The same answer whether the chain is missing or not granted: another tenant learns nothing.
    return failed(
      "chain_access_denied",
      `tenant "${target}" grants "${run.tenant}" no access to chain "${spec.name}"`,
    );
  }
  if (chain === undefined) return failed("chain_not_found", `chain "${spec.name}" does not exist`);
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
