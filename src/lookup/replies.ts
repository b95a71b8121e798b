// Turns a lookup outcome into each protocol's answer. Pure. The rules, the same for every MTA:
//   route            -> the route (Postfix: `<transport>:[<onion>]:<port>`, a comma-separated list of
//                       next hops when the SRV set names several onions; Postfix 3.5+ reads the list)
//   no route, `*`, `.parent`, local domains, unparseable keys -> not found (the MTA's default route)
//   temporary failure, lookup over budget -> TEMP / 400 / DEFER, so the MTA defers: never not-found,
//                       which would send the mail over the clearnet
//   invalid .onion recipient domain -> a found `error:` route that bounces it (Postfix, Sendmail) or
//                       FAIL (Exim): not-found would hand the .onion name to DNS, PERM would be
//                       read as a table configuration error and defer forever
import type { OnionTarget } from '../resolve/types.ts';
import type { LookupOutcome } from './answerer.ts';
import type { SocketmapReply } from './socketmap-codec.ts';
import type { TcpTableReply } from './tcp-table-codec.ts';
import { eximDefer, eximFail, eximHostList } from './exim-codec.ts';
import { domainListValue } from '../routing/header-value.ts';

/** At most this many next hops in one answer (keeps tcp_table replies far below 4096 bytes). */
export const MAX_HOPS = 16;

/** What every protocol answers, before its own encoding. */
export type Answer =
  | { readonly kind: 'found'; readonly value: string }
  | { readonly kind: 'not-found' }
  | { readonly kind: 'temporary'; readonly reason: string };

/** `smtptor:[a.onion]:25,[b.onion]:25`; with the relay's nexthop, `onionrelay:unix:/onionmx/relay.sock` (the relay routes itself). */
export function postfixRoute(transport: string, hops: readonly OnionTarget[], relayNexthop?: string): string {
  if (relayNexthop !== undefined) return `${transport}:${relayNexthop}`;
  return `${transport}:${hops
    .slice(0, MAX_HOPS)
    .map((h) => `[${h.onion}]:${h.port}`)
    .join(',')}`;
}

export function postfixAnswer(outcome: LookupOutcome, transport: string, relayNexthop?: string): Answer {
  switch (outcome.kind) {
    case 'skipped':
      return { kind: 'not-found' };
    case 'over-budget':
      return overBudget(outcome);
    case 'decision': {
      const d = outcome.decision;
      switch (d.kind) {
        case 'route':
          return { kind: 'found', value: postfixRoute(transport, d.hops, relayNexthop) };
        case 'none':
          return { kind: 'not-found' };
        case 'tempfail':
          return { kind: 'temporary', reason: tempReason(d.domain, d.reason, d.detail) };
        case 'reject':
          return { kind: 'found', value: `error:5.1.2 invalid onion domain ${d.domain}: ${d.reason}` };
      }
    }
  }
}

/**
 * Sendmail map values by map name. `mailertable`: `<mailer>:[a.onion]:[b.onion]` (Sendmail tries
 * a colon-separated host list in order, like MX records). A mailertable value has no place for a
 * port, so only hops on port 25 are listed; a route with none answers a temporary failure rather
 * than a wrong destination. `onionroute`: the same host list without the mailer, for rulesets.
 */
export const SENDMAIL_MAPS = ['mailertable', 'onionroute'] as const;

export function sendmailAnswer(mapName: string, outcome: LookupOutcome, mailer: string): Answer | { readonly kind: 'unknown-map' } {
  if (mapName !== 'mailertable' && mapName !== 'onionroute') return { kind: 'unknown-map' };
  if (outcome.kind !== 'decision') return outcome.kind === 'skipped' ? { kind: 'not-found' } : overBudget(outcome);
  const d = outcome.decision;
  switch (d.kind) {
    case 'route': {
      const hosts = d.hops.filter((h) => h.port === 25).slice(0, MAX_HOPS);
      if (hosts.length === 0) return { kind: 'temporary', reason: `${d.domain}: the route uses port ${d.port}, which a Sendmail map value cannot carry` };
      const list = hosts.map((h) => `[${h.onion}]`).join(':');
      return { kind: 'found', value: mapName === 'mailertable' ? `${mailer}:${list}` : list };
    }
    case 'none':
      return { kind: 'not-found' };
    case 'tempfail':
      return { kind: 'temporary', reason: tempReason(d.domain, d.reason, d.detail) };
    case 'reject':
      return mapName === 'mailertable' ? { kind: 'found', value: `error:5.1.2:550 invalid onion domain ${d.domain}: ${d.reason}` } : { kind: 'not-found' };
  }
}

export function socketmapReply(answer: Answer | { readonly kind: 'unknown-map' }, mapName = ''): SocketmapReply {
  switch (answer.kind) {
    case 'found':
      return { status: 'OK', value: answer.value };
    case 'not-found':
      return { status: 'NOTFOUND' };
    case 'temporary':
      return { status: 'TEMP', reason: answer.reason };
    case 'unknown-map':
      return { status: 'PERM', reason: `unknown map name "${mapName}" (this server answers ${SENDMAIL_MAPS.join(', ')})` };
  }
}

export function tcpTableReply(answer: Answer): TcpTableReply {
  switch (answer.kind) {
    case 'found':
      return { status: 200, value: answer.value };
    case 'not-found':
      return { status: 500, reason: 'not found' };
    case 'temporary':
      return { status: 400, reason: answer.reason };
  }
}

/** Exim `route`: the host list, zero bytes for no route, DEFER/FAIL otherwise. */
export function eximRouteReply(outcome: LookupOutcome): string {
  if (outcome.kind === 'skipped') return '';
  if (outcome.kind === 'over-budget') return eximDefer(overBudget(outcome).reason);
  const d = outcome.decision;
  switch (d.kind) {
    case 'route':
      return eximHostList(d.hops.slice(0, MAX_HOPS));
    case 'none':
      return '';
    case 'tempfail':
      return eximDefer(tempReason(d.domain, d.reason, d.detail));
    case 'reject':
      return eximFail(`invalid onion domain ${d.domain}: ${d.reason}`);
  }
}

/** Exim `header`: the domain-list value of the routed domains (zero bytes if none is routed). */
export function eximHeaderReply(outcomes: readonly LookupOutcome[]): string {
  const routes = [];
  for (const o of outcomes) {
    if (o.kind === 'over-budget') return eximDefer(overBudget(o).reason);
    if (o.kind !== 'decision') continue;
    const d = o.decision;
    if (d.kind === 'tempfail') return eximDefer(tempReason(d.domain, d.reason, d.detail));
    if (d.kind === 'reject') return eximFail(`invalid onion domain ${d.domain}: ${d.reason}`);
    if (d.kind === 'route') routes.push(d);
  }
  return domainListValue(routes);
}

function overBudget(o: { readonly domain: string; readonly budgetMs: number }): { readonly kind: 'temporary'; readonly reason: string } {
  return { kind: 'temporary', reason: `${o.domain}: lookup still in progress after ${o.budgetMs} ms, try again` };
}

function tempReason(domain: string, reason: string, detail: string | undefined): string {
  return `${domain}: ${reason}${detail === undefined ? '' : ` (${detail})`}`;
}
