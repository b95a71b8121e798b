// The selftest's Postfix checks, judged from what postconf says (a PostfixView) and from table
// lookups (a TableLookup, `postmap -q` in production). No I/O of their own.
import { join } from 'node:path';
import { parseListenSpec, type ListenTarget } from '../net/listen-spec.ts';
import { parseMilterList, parseTableList, type MasterService } from './postconf-parse.ts';
import { fail, pass, type CheckResult } from './checklist.ts';

export interface PostfixView {
  /** main.cf parameters, expanded (`postconf -x`). */
  readonly main: Readonly<Record<string, string>>;
  readonly services: readonly MasterService[];
}

export type LookupOutcome =
  | { readonly kind: 'found'; readonly table: string; readonly value: string }
  | { readonly kind: 'none' }
  | { readonly kind: 'error'; readonly message: string };

/** The first table in the list with an answer for the key, as Postfix searches header_checks. */
export type TableLookup = (tables: readonly string[], key: string) => Promise<LookupOutcome>;

export const MAIN_PARAMS = ['smtpd_milters', 'milter_default_action', 'milter_header_checks', 'smtp_header_checks', 'lmtp_header_checks', 'queue_directory'] as const;

export const MILTERS_CHECK = 'postfix smtpd_milters';
export const DEFAULT_ACTION_CHECK = 'postfix milter_default_action';
export const HEADER_CHECK = 'postfix header check';
export const OUTBOUND_CHECK = 'postfix strips outbound header';

/** Our milter in smtpd_milters, and what Postfix does when it is down. */
export function judgeMilterSettings(view: PostfixView, ourListen: string): CheckResult[] {
  const milters = view.main['smtpd_milters'] ?? '';
  const ours = parseMilterList(milters).find((e) => sameSocket(e.address, ourListen, view.main['queue_directory']));
  const results: CheckResult[] = [];
  if (ours === undefined) {
    results.push(fail(MILTERS_CHECK, `smtpd_milters = ${milters === '' ? '(empty)' : milters} does not name ${ourListen}`, `add our socket to smtpd_milters in main.cf (chrooted smtpd: relative to queue_directory, e.g. unix:/onionmx/milter.sock), then postfix reload`));
  } else {
    results.push(pass(MILTERS_CHECK, `${ours.address} is listed`));
  }
  const own = ours?.settings['default_action'];
  const action = own ?? view.main['milter_default_action'] ?? '';
  const where = own === undefined ? 'milter_default_action' : `default_action of ${ours?.address ?? ''}`;
  if (action === 'tempfail' || action === 'reject') {
    results.push(pass(DEFAULT_ACTION_CHECK, `${where} = ${action}: mail waits while the milter is down`));
  } else {
    results.push(fail(DEFAULT_ACTION_CHECK, `${where} = ${action}: mail passes untagged (over the clearnet) whenever the milter is down`, 'set milter_default_action = tempfail in main.cf'));
  }
  return results;
}

/** Postfix's milter address against ours; a chrooted smtpd sees unix paths under queue_directory. */
export function sameSocket(postfixAddress: string, ourListen: string, queueDirectory: string | undefined): boolean {
  const theirs = parseListenSpec(postfixAddress);
  const mine = parseListenSpec(ourListen);
  if (!theirs.ok || !mine.ok) return false;
  return sameTarget(theirs.target, mine.target, queueDirectory);
}

function sameTarget(theirs: ListenTarget, mine: ListenTarget, queueDirectory: string | undefined): boolean {
  if (theirs.kind === 'unix' && mine.kind === 'unix') return theirs.path === mine.path || (queueDirectory !== undefined && join(queueDirectory, theirs.path) === mine.path);
  if (theirs.kind === 'tcp' && mine.kind === 'tcp') return theirs.port === mine.port && loopbackName(theirs.host) === loopbackName(mine.host);
  return false;
}

function loopbackName(host: string): string {
  return host === 'localhost' ? '127.0.0.1' : host;
}

export interface HeaderCheckOutcome {
  readonly result: CheckResult;
  /** What the FILTER action names (undefined: no FILTER). */
  readonly filter: FilterTarget | undefined;
}

/** milter_header_checks answers the header we write with FILTER to a transport master.cf defines. */
export async function checkHeaderTable(view: PostfixView, headerLine: string, lookup: TableLookup, headerName: string): Promise<HeaderCheckOutcome> {
  const tables = parseTableList(view.main['milter_header_checks']);
  const fixTable = `add a line matching "${headerLine}" with FILTER <transport>:<nexthop> to milter_header_checks (see examples/postfix/onion_milter_header_checks)`;
  if (tables.length === 0) return { result: fail(HEADER_CHECK, `milter_header_checks is empty: the ${headerName} header routes nothing`, fixTable), filter: undefined };
  const found = await lookup(tables, headerLine);
  if (found.kind === 'error') return { result: fail(HEADER_CHECK, `cannot query ${tables.join(', ')}: ${found.message}`, 'install the table type (Debian: postfix-pcre) and make the file readable'), filter: undefined };
  if (found.kind === 'none') return { result: fail(HEADER_CHECK, `no line of ${tables.join(', ')} matches "${headerLine}"`, fixTable), filter: undefined };
  const target = /^FILTER\s+(\S+)/i.exec(found.value)?.[1];
  if (target === undefined) return { result: fail(HEADER_CHECK, `${found.table} answers "${found.value}", not FILTER`, fixTable), filter: undefined };
  const filter = parseFilterTarget(target);
  const transport = filter.transport;
  const service = findTransport(view, transport);
  if (service === undefined) {
    return { result: fail(HEADER_CHECK, `${found.table}: FILTER ${target}, but master.cf defines no "${transport} unix" service`, `add the ${transport} transport to master.cf (see examples/postfix/master.cf)`), filter };
  }
  return { result: pass(HEADER_CHECK, `${found.table}: FILTER ${target} (transport ${transport}: ${service.command})`), filter };
}

export function findTransport(view: PostfixView, transport: string): MasterService | undefined {
  return view.services.find((s) => s.name === transport && s.type === 'unix');
}

/** Where FILTER sends the message: `smtptor:[<onion>]:25`, `onionrelay:unix:/onionmx/relay.sock`. */
export interface FilterTarget {
  readonly transport: string;
  /** undefined: the transport's own default nexthop. */
  readonly nexthop: string | undefined;
}

export function parseFilterTarget(target: string): FilterTarget {
  const colon = target.indexOf(':');
  return colon < 0 ? { transport: target, nexthop: undefined } : { transport: target.slice(0, colon), nexthop: target.slice(colon + 1) || undefined };
}

/**
 * The onion transport's client drops the header (its smtp_ or lmtp_header_checks answer IGNORE), or
 * delivers over LMTP into the built-in relay (FILTER's nexthop is relay.listen), which deletes it.
 */
export async function checkOutboundStrip(view: PostfixView, filter: FilterTarget, headerLine: string, lookup: TableLookup, relayListen: string | undefined): Promise<CheckResult> {
  const { transport, nexthop } = filter;
  const service = findTransport(view, transport);
  if (service === undefined) return fail(OUTBOUND_CHECK, `master.cf defines no "${transport} unix" service`, `add the ${transport} transport to master.cf (see examples/postfix/master.cf)`);
  const client = service.command === 'lmtp' ? 'lmtp' : 'smtp';
  const param = `${client}_header_checks`;
  const own = service.params[param];
  const where = own === undefined ? param : `${transport}'s -o ${param}`;
  const tables = parseTableList(own ?? view.main[param]);
  const found = tables.length === 0 ? ({ kind: 'none' } as const) : await lookup(tables, headerLine);
  if (found.kind === 'found' && /^IGNORE\b/i.test(found.value)) return pass(OUTBOUND_CHECK, `${where}: ${found.table} answers IGNORE`);
  if (client === 'lmtp' && relayListen !== undefined && nexthop !== undefined && sameSocket(nexthop, relayListen, view.main['queue_directory'])) {
    return pass(OUTBOUND_CHECK, `${transport} delivers over LMTP to ${nexthop}, the built-in relay (relay.listen), which deletes the header`);
  }
  const said = found.kind === 'found' ? `${found.table} answers "${found.value}"` : found.kind === 'error' ? `cannot query ${tables.join(', ')}: ${found.message}` : tables.length === 0 ? `${where} is empty` : `no line of ${tables.join(', ')} matches`;
  return fail(OUTBOUND_CHECK, `${said}: the routing header leaves this host through ${transport}`, `add /^${headerLine.slice(0, headerLine.indexOf(':'))}:/ IGNORE to a table in ${param}, or in -o ${param}= on ${transport} in master.cf (see examples/postfix/onion_smtp_header_checks)`);
}

/**
 * The listeners Tor's onion service may forward to, as examples/postfix/master.cf writes them: an
 * smtpd bound to a loopback address that runs no milters (`-o smtpd_milters=`).
 */
export function onionFacingSmtpds(view: PostfixView): { host: string; port: number }[] {
  const out: { host: string; port: number }[] = [];
  for (const s of view.services) {
    if (s.type !== 'inet' || s.command !== 'smtpd' || s.params['smtpd_milters'] !== '') continue;
    const m = /^(127\.[0-9.]+|localhost|\[::1\]):([0-9]{1,5})$/.exec(s.name);
    if (m === null) continue;
    out.push({ host: m[1] === 'localhost' ? '127.0.0.1' : (m[1] ?? '').replace(/^\[|\]$/g, ''), port: Number(m[2]) });
  }
  return out;
}
