// Where the relay sends a recipient: the daemon's own resolver decision at RCPT time (the same
// sources, cache and health policy as the milter and the lookup servers), never a header. The one
// place that turns a decision into either the onion hops to deliver to or the reply that refuses
// the recipient. Fails closed: anything but a route is refused, and nothing is ever delivered
// over the clearnet.
import type { Decision, OnionTarget, RouteSource } from '../resolve/types.ts';
import type { DecisionSource } from '../lookup/answerer.ts';
import type { SmtpReply } from './envelope.ts';
import { ownReply } from './inbound/reply.ts';
import { errorMessage } from '../errors.ts';

export type RecipientRoute =
  | {
      readonly kind: 'onion';
      readonly domain: string;
      /** The onions to try, in preference order. */
      readonly hops: readonly OnionTarget[];
      /** Recipients with the same key share one upstream transaction. */
      readonly key: string;
      readonly source: RouteSource;
    }
  | {
      readonly kind: 'refused';
      readonly domain: string;
      readonly decision: 'none' | 'tempfail' | 'reject';
      /** The resolver's reason, for the log line. */
      readonly reason: string;
      readonly reply: SmtpReply;
    };

/** Synchronous when the cache or a map answers (usually: the milter looked the domain up at RCPT time). */
export function routeRecipient(source: DecisionSource, domain: string, signal?: AbortSignal): RecipientRoute | Promise<RecipientRoute> {
  const known = source.peekDomain(domain);
  if (known !== undefined) return routeFromDecision(known);
  return source.resolveDomain(domain, signal).then(routeFromDecision, (err: unknown) =>
    routeFromDecision({ kind: 'tempfail', domain, reason: 'network', detail: errorMessage(err), ttl: 0 }),
  );
}

export function routeFromDecision(d: Decision): RecipientRoute {
  switch (d.kind) {
    case 'route':
      return { kind: 'onion', domain: d.domain, hops: d.hops, key: d.hops.map((h) => `${h.onion}:${h.port}`).join(','), source: d.source };
    case 'none': {
      const reason = withDetail(d.reason, d.detail);
      // 4.4.4 "unable to route" (RFC 3463), as a temporary failure: the route may come back (a map
      // reload, DNS), and a bounce would lose mail the sender meant for the onion.
      return refused(d, reason, ownReply(451, '4.4.4', `No onion route for ${d.domain} at delivery time (${reason}); this relay never delivers over the clearnet`));
    }
    case 'tempfail': {
      const reason = withDetail(d.reason, d.detail);
      return refused(d, reason, ownReply(451, '4.4.3', `Onion route lookup for ${d.domain} failed temporarily (${reason}); try again later`));
    }
    case 'reject':
      return refused(d, d.reason, ownReply(550, '5.1.2', `Bad destination ${d.domain}: ${d.reason}`));
  }
}

function refused(d: Exclude<Decision, { kind: 'route' }>, reason: string, reply: SmtpReply): RecipientRoute {
  return { kind: 'refused', domain: d.domain, decision: d.kind, reason, reply };
}

function withDetail(reason: string, detail: string | undefined): string {
  return detail === undefined ? reason : `${reason}: ${detail}`;
}
