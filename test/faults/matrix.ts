// One cell of the fault matrix, run against the lab: load before, during and after one fault, then
// the invariants counted by Message-ID over the sinks and Postfix's queue.
//
// Phases: warm-up (WARM transactions, all must go through), fault on (FAULTED transactions under
// the fault), healed (the load stops, the queue is flushed), recovery (how long from the heal until
// a fresh onion message reaches the onion sink), settle (the queue drains, bounded).
import { headerValues } from '../helpers/smtp-message.ts';
import type { Lab } from './lab.ts';
import { replySummary, sendOne, startLoad, type Attempt } from './load.ts';

export interface Cell {
  readonly group: 'DNS' | 'Tor' | 'daemon' | 'Postfix';
  readonly name: string;
  /** Cheap cells run in `npm test` too (faults-smoke.test.ts). */
  readonly smoke?: boolean;
  /** Before the warm-up, e.g. restart the daemon another way; `after` undoes it. */
  readonly before?: (lab: Lab) => Promise<void>;
  readonly inject: (lab: Lab, cell: CellContext) => Promise<void>;
  readonly heal: (lab: Lab, cell: CellContext) => Promise<void>;
  readonly after?: (lab: Lab) => Promise<void>;
  /** Extra invariants of this cell: each string returned is a violation. */
  readonly check?: (lab: Lab, result: CellResult) => string[];
  /** Relay deliveries (sent or deferred) to wait for under the fault, after the transactions. */
  readonly relayAttempts?: number;
  /** Transactions under the fault (default FAULTED). */
  readonly faulted?: number;
  /** Messages to onion-srv domains may go the clearnet way by design in this cell (unauthenticated SRV). */
  readonly srvMayGoClearnet?: boolean;
  /**
   * The fault cuts connections that are in flight: a message whose final dot went out before the
   * cut and whose reply never came back is retried, and may arrive twice (RFC 1047; the other
   * choice would be to lose it). Duplicates up to the number of such cut deliveries are reported,
   * not counted as violations.
   */
  readonly cutsInFlight?: boolean;
}

export interface CellContext {
  /** Figures a cell measures itself (the longest pause, ...), shown in the table's note column. */
  readonly figures: Record<string, string | number>;
  readonly notes: string[];
}

export interface CellResult {
  readonly group: string;
  readonly name: string;
  /** Replies the load got under the fault. */
  readonly mtaSaw: string;
  /** Postfix's delivery attempts that were deferred meanwhile, by reply. */
  readonly deferrals: string;
  readonly sent: number;
  readonly accepted: number;
  readonly clearnetLeaks: number;
  readonly lost: number;
  readonly duplicated: number;
  readonly misrouted: number;
  readonly stillQueued: number;
  /** Heal to the first fresh onion message in the onion sink, ms; undefined: never within the bound. */
  readonly recoverMs: number | undefined;
  readonly figures: Readonly<Record<string, string | number>>;
  readonly violations: readonly string[];
  readonly notes: readonly string[];
}

const WARM = 4;
const FAULTED = 8;
const FAULT_BOUND_MS = 30_000;
const RECOVER_BOUND_MS = 30_000;
const SETTLE_BOUND_MS = 30_000;

export async function runCell(lab: Lab, cell: Cell): Promise<CellResult> {
  const context: CellContext = { figures: {}, notes: [] };
  const violations: string[] = [];
  const tag = `${cell.group}-${cell.name}`;
  await cell.before?.(lab);
  const logMark = await lab.pf.logMark();
  const load = startLoad(lab.pf.smtpPort, tag);
  let attempts: readonly Attempt[];
  let healedAt = 0;
  try {
    await load.waitForMore(WARM, FAULT_BOUND_MS);
    const warm = load.attempts.filter((a) => !a.accepted);
    if (warm.length > 0) violations.push(`warm-up refused: ${replySummary(warm)}`);
    load.setFault(true);
    const injectedAt = await lab.pf.logMark();
    await cell.inject(lab, context);
    await load.waitForMore(cell.faulted ?? FAULTED, FAULT_BOUND_MS);
    if (cell.relayAttempts !== undefined) await waitForRelayAttempts(lab, injectedAt, cell.relayAttempts);
    load.setFault(false);
    await cell.heal(lab, context);
    healedAt = Date.now();
  } finally {
    await load.stop();
    attempts = load.attempts;
  }
  const recoverMs = await recovery(lab, tag, healedAt);
  await lab.pf.flush().catch(() => undefined);
  await lab.pf.waitForEmptyQueue({ timeoutMs: SETTLE_BOUND_MS }).catch(() => undefined);
  await cell.after?.(lab);

  const all = [...attempts];
  const counted = await account(lab, all);
  const underFault = all.filter((a) => a.underFault);
  const deferrals = await deferredSummary(lab, logMark);
  const cut = cell.cutsInFlight === true ? await cutAfterDot(lab, logMark) : 0;
  const result: CellResult = {
    group: cell.group,
    name: cell.name,
    mtaSaw: replySummary(underFault),
    deferrals,
    sent: all.length,
    accepted: all.filter((a) => a.accepted).length,
    ...counted,
    clearnetLeaks: counted.leaks.filter((a) => !(cell.srvMayGoClearnet === true && a.kind === 'onion-srv')).length,
    recoverMs,
    figures: context.figures,
    violations,
    notes: context.notes,
  };
  if (cell.srvMayGoClearnet === true && counted.leaks.length > 0) context.notes.push(`${counted.leaks.length} unauthenticated-SRV messages went the clearnet way (by design under dnssec: required)`);
  if (result.clearnetLeaks > 0) violations.push(`${result.clearnetLeaks} onion messages delivered over the clearnet`);
  if (result.lost > 0) violations.push(`${result.lost} accepted messages lost`);
  if (result.duplicated > cut) violations.push(`${result.duplicated} messages delivered more than once`);
  else if (result.duplicated > 0) context.notes.push(`${result.duplicated} duplicate(s), each a delivery cut after its final dot (RFC 1047: at least once, never lost); cut deliveries: ${cut}`);
  if (result.misrouted > 0) violations.push(`${result.misrouted} messages reached the spoofed onion`);
  if (recoverMs === undefined) violations.push(`no recovery within ${RECOVER_BOUND_MS} ms`);
  if (lab.daemon.child.exitCode !== null || lab.daemon.child.signalCode !== null) violations.push(`the daemon exited (${String(lab.daemon.child.exitCode ?? lab.daemon.child.signalCode)})`);
  violations.push(...(cell.check?.(lab, result) ?? []));
  return result;
}

/** A cell whose run itself failed (the lab could not do what the cell needs): a violation. */
export function failedCell(cell: Cell, err: unknown): CellResult {
  const message = (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
  return {
    group: cell.group, name: cell.name, mtaSaw: '-', deferrals: '-', sent: 0, accepted: 0, clearnetLeaks: 0, lost: 0, duplicated: 0, misrouted: 0, stillQueued: 0,
    recoverMs: undefined, figures: {}, violations: [`the cell could not run: ${message}`], notes: [],
  };
}

/** Fresh onion messages, one after another, until one arrives at the onion sink: ms since the heal. */
async function recovery(lab: Lab, tag: string, healedAt: number): Promise<number | undefined> {
  const deadline = healedAt + RECOVER_BOUND_MS;
  while (Date.now() < deadline) {
    const probe = await sendOne(lab.pf.smtpPort, `${tag}-probe`, false, 'onion-srv');
    if (probe.accepted) {
      await lab.pf.flush().catch(() => undefined);
      const arrived = await lab.onionSink
        .waitForMessage((m) => messageIdOf(m.data) === probe.messageId, Math.max(1, deadline - Date.now()))
        .then(() => true, () => false);
      if (arrived) return Date.now() - healedAt;
    } else {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return undefined;
}

function messageIdOf(data: string): string | undefined {
  return headerValues(data, 'Message-ID')[0];
}

async function account(lab: Lab, attempts: readonly Attempt[]): Promise<{ lost: number; duplicated: number; misrouted: number; stillQueued: number; leaks: Attempt[] }> {
  const seen = new Map<string, number>();
  const inClear = new Set<string>();
  const inSpoof = new Set<string>();
  for (const [sink, mark] of [[lab.onionSink, undefined], [lab.clearSink, inClear], [lab.spoofSink, inSpoof]] as const) {
    for (const m of sink.messages) {
      const id = messageIdOf(m.data);
      if (id === undefined) continue;
      seen.set(id, (seen.get(id) ?? 0) + 1);
      mark?.add(id);
    }
  }
  const queued = new Set((await lab.pf.queue()).map((q) => q.queueId));
  let lost = 0;
  let duplicated = 0;
  let stillQueued = 0;
  const leaks: Attempt[] = [];
  for (const a of attempts) {
    const copies = seen.get(a.messageId) ?? 0;
    if (copies > 1) duplicated++;
    if (a.kind !== 'clearnet' && inClear.has(a.messageId)) leaks.push(a);
    if (!a.accepted) {
      if (copies > 0) duplicated++; // refused, so the sender retries: a copy already out is a duplicate
      continue;
    }
    if (copies > 0) continue;
    if (a.queueId !== undefined && queued.has(a.queueId)) stillQueued++;
    else lost++;
  }
  const misrouted = attempts.filter((a) => inSpoof.has(a.messageId)).length;
  return { lost, duplicated, misrouted, stillQueued, leaks };
}

/** Postfix's deliveries to the relay (sent or deferred) since the mark reach `n`, or the bound passes. */
async function waitForRelayAttempts(lab: Lab, since: number, n: number): Promise<void> {
  const pattern = new RegExp(`relay=[^,]*\\[127\\.0\\.0\\.1\\]:${lab.ports.relay},.* status=(sent|deferred)`, 'g');
  const deadline = Date.now() + FAULT_BOUND_MS;
  while (Date.now() < deadline) {
    if ([...(await lab.pf.log()).slice(since).matchAll(pattern)].length >= n) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Delivery attempts cut after the final dot: the relay lost its onion, or Postfix lost the relay, before the reply. */
async function cutAfterDot(lab: Lab, since: number): Promise<number> {
  const text = (await lab.pf.log()).slice(since);
  return [...text.matchAll(/status=deferred \((?:[^)\n]*said: 451 4\.4\.2 [^)\n]* lost while waiting for the reply to [^)\n]*|lost connection with [^)\n]* while (?:sending end of data|receiving the final reply)[^)\n]*)\)/g)].length;
}

/** `451 4.4.1 x3`: the replies in Postfix's `status=deferred` lines since the mark. */
async function deferredSummary(lab: Lab, since: number): Promise<string> {
  const text = (await lab.pf.log()).slice(since);
  const counts = new Map<string, number>();
  for (const m of text.matchAll(/status=deferred \(([^)\n]*)/g)) {
    const reason = m[1] ?? '';
    const code = /said: (\d{3}[ -]\d\.\d{1,3}\.\d{1,3})/.exec(reason)?.[1] ?? reason.replace(/\[[^\]]*\]|:\d+/g, '').slice(0, 40);
    counts.set(code, (counts.get(code) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} x${v}`).join(', ') || '-';
}

/** The table: one row per cell. */
export function formatTable(results: readonly CellResult[]): string {
  const head = ['cell', 'MTA saw under fault', 'deferred in queue', 'sent', 'accepted', 'clearnet leaks', 'lost', 'dup', 'recover ms', 'verdict'];
  const rows = results.map((r) => [
    `${r.group}: ${r.name}`,
    r.mtaSaw,
    r.deferrals,
    String(r.sent),
    String(r.accepted),
    String(r.clearnetLeaks),
    String(r.lost),
    String(r.duplicated),
    r.recoverMs === undefined ? 'never' : String(r.recoverMs),
    r.violations.length === 0 ? 'ok' : `FAIL: ${r.violations.join('; ')}`,
  ]);
  const lines = [head, head.map(() => '---'), ...rows].map((cells) => `| ${cells.join(' | ')} |`);
  const notes = results.flatMap((r) => {
    const figures = Object.entries(r.figures).map(([k, v]) => `${k} ${v}`);
    const all = [...figures, ...r.notes, ...(r.stillQueued > 0 ? [`${r.stillQueued} still queued after the settle bound (not lost)`] : [])];
    return all.length === 0 ? [] : [`- ${r.group}: ${r.name}: ${all.join('; ')}`];
  });
  return [...lines, ...(notes.length === 0 ? [] : ['', ...notes])].join('\n');
}
