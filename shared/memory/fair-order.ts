/**
 * The order in which an SQS fair queue hands out ready messages, as both emulations of it use it
 * (MemoryRunQueue, and fauxqs patched by local/fair-queue-emulation.ts): round by round, each
 * group's next message, the groups with fewer messages in flight first. A stable order, so a
 * group's messages keep their send order. AWS documents the outcome (a quiet group's messages
 * are not held back by a busy group's backlog), not its algorithm.
 */
export function fairOrder<M>(
  ready: readonly M[],
  inFlight: readonly M[],
  groupOf: (message: M) => string,
): M[] {
  const load = new Map<string, number>();
  for (const message of inFlight) load.set(groupOf(message), (load.get(groupOf(message)) ?? 0) + 1);
  const turn = new Map<string, number>();
  const keyed = ready.map((message, index) => {
    const group = groupOf(message);
    const nth = turn.get(group) ?? 0;
    turn.set(group, nth + 1);
    // A group with k in flight gets its n-th ready message at round k + n.
    return { message, index, round: (load.get(group) ?? 0) + nth };
  });
  keyed.sort((a, b) => a.round - b.round || a.index - b.index);
  return keyed.map((k) => k.message);
}
