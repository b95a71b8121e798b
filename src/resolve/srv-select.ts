// RFC 2782 target selection: lowest priority first; within one priority a weighted random order.
// Pure, with the random source injected so tests can seed it.
import { randomInt as cryptoRandomInt } from 'node:crypto';

export interface SrvRecord {
  readonly priority: number;
  readonly weight: number;
  readonly port: number;
  readonly target: string;
}

/** An integer in [0, maxExclusive). */
export type RandomInt = (maxExclusive: number) => number;

export const defaultRandomInt: RandomInt = (maxExclusive) => cryptoRandomInt(0, maxExclusive);

/**
 * Orders records per RFC 2782 "Usage rules": by ascending priority; within a priority, repeatedly
 * pick at random with probability proportional to weight, where weight-0 records are placed first
 * (shuffled among themselves) and so have a small chance (1 in sum+1 each round) of being picked
 * early, and are otherwise picked last. Returns a new array; the input is not changed.
 */
export function orderSrvRecords<T extends SrvRecord>(records: readonly T[], randomInt: RandomInt = defaultRandomInt): T[] {
  const byPriority = new Map<number, T[]>();
  for (const r of records) {
    const group = byPriority.get(r.priority);
    if (group === undefined) byPriority.set(r.priority, [r]);
    else group.push(r);
  }
  const out: T[] = [];
  for (const priority of [...byPriority.keys()].sort((a, b) => a - b)) {
    out.push(...weightedOrder(byPriority.get(priority) ?? [], randomInt));
  }
  return out;
}

function weightedOrder<T extends SrvRecord>(group: readonly T[], randomInt: RandomInt): T[] {
  // "arrange all SRV RRs (that have not been ordered yet) in any order, except that all those
  // with weight 0 are placed at the beginning of the list". We shuffle the weight-0 records so
  // that several of them share load instead of the first one always winning.
  const remaining = [...shuffle(group.filter((r) => r.weight === 0), randomInt), ...group.filter((r) => r.weight !== 0)];
  const ordered: T[] = [];
  while (remaining.length > 0) {
    const sum = remaining.reduce((s, r) => s + r.weight, 0);
    // "choose a uniform random number between 0 and the sum computed (inclusive)"
    const pick = randomInt(sum + 1);
    let running = 0;
    let index = remaining.length - 1;
    for (let i = 0; i < remaining.length; i++) {
      running += remaining[i]?.weight ?? 0;
      if (running >= pick) {
        index = i;
        break;
      }
    }
    const [chosen] = remaining.splice(index, 1);
    if (chosen !== undefined) ordered.push(chosen);
  }
  return ordered;
}

function shuffle<T>(items: T[], randomInt: RandomInt): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    const a = items[i];
    const b = items[j];
    if (a !== undefined && b !== undefined) {
      items[i] = b;
      items[j] = a;
    }
  }
  return items;
}
