// The routing filter as the benchmark runs it: the daemon's own resolver (buildResolver from a Config)
// with a warm cache, and the three recipients of a routing transaction: one domain pinned in an
// operator map, one with a DNSSEC-authenticated SRV record, one clearnet (NXDOMAIN). Both onion
// domains share one onion, so with mixed_routes=defer only the clearnet recipient is deferred.
// DNS comes from an in-process server on 127.0.0.1 that answers during warm-up only: the bench
// process checks afterwards that the measured run sent it no query.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaults, type Config } from '../../src/config/schema.ts';
import type { Logger } from '../../src/log.ts';
import type { FilterHandler, FilterSpec } from '../../src/milter/types.ts';
import { buildResolver } from '../../src/resolve/from-config.ts';
import type { Decision } from '../../src/resolve/types.ts';
import { createRoutingFilter, type RoutingSettings } from '../../src/routing/milter-filter.ts';
import { startDnsServer, type DnsTestServer } from '../helpers/dns-server.ts';
import { ADDED_HEADER } from './milter-bench-filter.ts';
import { PLAIN_SCENARIO, type Scenario } from './milter-load.ts';

export const ROUTING_VARIANTS = ['domain-list', 'defer'] as const;
export type RoutingVariant = (typeof ROUTING_VARIANTS)[number];

export function isRoutingVariant(s: string): s is RoutingVariant {
  return (ROUTING_VARIANTS as readonly string[]).includes(s);
}

export const ONION = 'aj3nsqqcksrrc5cye5etjsoewz6jrygpekzwoko3q6wyxjlb3dgasfid.onion';
const PINNED_DOMAIN = 'pinned.example';
const SRV_DOMAIN = 'srv-dnssec.example';
const CLEARNET_DOMAIN = 'clearnet.example';
const HEADER_NAME = defaults.header.name;
/** Far longer than any cell: nothing expires while one is measured. */
const DNS_TTL = 3600;

const ROUTING_RECIPIENTS = [`alice@${PINNED_DOMAIN}`, `bob@${SRV_DOMAIN}`, `carol@${CLEARNET_DOMAIN}`] as const;

/** The plain filter with the routing filter's events, sent the routing transaction's recipients. */
export const PLAIN_ROUTING_EVENTS_SCENARIO: Scenario = { ...PLAIN_SCENARIO, recipients: ROUTING_RECIPIENTS };

export const ROUTING_SCENARIOS: Readonly<Record<RoutingVariant, Scenario>> = {
  // mixed_routes is allow with this format: three recipients, both onion domains in the header.
  'domain-list': {
    recipients: ROUTING_RECIPIENTS,
    rcptReplies: ['continue', 'continue', 'continue'],
    header: { name: HEADER_NAME, value: `${PINNED_DOMAIN}=${ONION}:25 ${SRV_DOMAIN}=${ONION}:25` },
  },
  // The first recipient fixes the onion class; the clearnet one gets 452 4.5.3.
  defer: {
    recipients: ROUTING_RECIPIENTS,
    rcptReplies: ['continue', 'continue', 452],
    header: { name: HEADER_NAME, value: `${defaults.header.transport}:[${ONION}]:25` },
  },
};

/**
 * A filter that does nothing but add the bench header, negotiating exactly what the routing filter
 * negotiates (same hooks, no-reply events, macros and actions): the plain engine to compare with.
 */
export function plainRoutingEventsFilter(): FilterSpec {
  const routing = createRoutingFilter({ settings: unusedSettings, submission: false });
  const handler: FilterHandler = {
    mailFrom: () => undefined,
    rcptTo: () => undefined,
    header: () => undefined,
    endOfMessage: (ctx) => {
      ctx.addHeader(ADDED_HEADER.name, ADDED_HEADER.value);
      return undefined;
    },
    abort: () => undefined,
  };
  return { ...routing, open: () => handler };
}

function unusedSettings(): RoutingSettings {
  throw new Error('the plain filter has no routing settings');
}

export interface RoutingFilter {
  readonly filter: FilterSpec;
  /** DNS queries the resolver sent after warm-up (0 when the cache stayed warm). */
  queriesAfterWarmup(): number;
  close(): Promise<void>;
}

function configFor(variant: RoutingVariant, mapPath: string, dns: DnsTestServer): Config {
  return {
    ...defaults,
    maps: [mapPath],
    dns: { ...defaults.dns, servers: [{ address: dns.address, port: dns.port, trustAd: false }] },
    header: { ...defaults.header, format: variant === 'domain-list' ? 'domain-list' : 'postfix' },
    milter: { ...defaults.milter, mixedRoutes: variant === 'domain-list' ? 'allow' : 'defer' },
  };
}

/** `route/static`, `route/srv` (DNSSEC), `none/nxdomain`: what a decision is, in one string. */
function describe(d: Decision): string {
  if (d.kind === 'route') return `route/${d.source}${d.dnssec ? '/dnssec' : ''} ${d.onion}`;
  return d.kind === 'none' ? `none/${d.reason}` : d.kind;
}

function expectDecision(d: Decision, want: string): void {
  if (describe(d) !== want) throw new Error(`warm-up of ${d.domain}: expected ${want}, got ${JSON.stringify(d)}`);
}

/**
 * The fixture binds TCP on the port UDP got, which a busy machine (or this bench's own TCP clients)
 * may already use for something else: try again on another port.
 */
async function startDns(): Promise<DnsTestServer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startDnsServer({
        zones: [
          { origin: SRV_DOMAIN, soa: { ttl: DNS_TTL, minimum: DNS_TTL }, records: [{ name: `_onion-mx._tcp.${SRV_DOMAIN}`, type: 'SRV', ttl: DNS_TTL, data: { priority: 0, weight: 5, port: 25, target: ONION } }] },
          { origin: CLEARNET_DOMAIN, soa: { ttl: DNS_TTL, minimum: DNS_TTL }, records: [] },
        ],
        behaviour: () => ({ kind: 'zone', ad: true }),
      });
    } catch (err) {
      if (attempt >= 10 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    }
  }
}

/**
 * Starts the DNS fixture, builds the resolver the daemon would build from the variant's config,
 * resolves the three recipients once (warming the SRV cache, positive and negative) and returns the
 * routing filter. Throws if a warm-up decision is not the expected one.
 */
export async function startRoutingFilter(variant: RoutingVariant, log: Logger): Promise<RoutingFilter> {
  const dir = mkdtempSync(join(tmpdir(), 'onionmx-bench-routing-'));
  const mapPath = join(dir, 'pins.yml');
  writeFileSync(mapPath, `${PINNED_DOMAIN}: ${ONION}\n`);
  const dns = await startDns();
  const cleanUp = async (): Promise<void> => {
    await dns.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const config = configFor(variant, mapPath, dns);
    const built = await buildResolver(config, log);
    if (!built.ok) throw new Error(`resolver: ${built.errors.join('; ')}`);
    const [pinned, srv, clearnet] = await Promise.all(ROUTING_RECIPIENTS.map((r) => built.resolver.resolve(r)));
    if (pinned === undefined || srv === undefined || clearnet === undefined) throw new Error('warm-up resolved too few recipients');
    expectDecision(pinned, `route/static ${ONION}`);
    expectDecision(srv, `route/srv/dnssec ${ONION}`);
    expectDecision(clearnet, 'none/nxdomain');
    const warmQueries = dns.queries.length;
    const settings: RoutingSettings = {
      resolver: built.resolver,
      headerName: config.header.name,
      header: config.header.format === 'domain-list' ? { format: 'domain-list' } : { format: 'postfix', transport: config.header.transport },
      mixedRoutes: config.milter.mixedRoutes,
      mixedRoutesMaxDefer: config.milter.mixedRoutesMaxDefer,
      routeMailers: config.policy.routeMailers,
    };
    return {
      filter: createRoutingFilter({ settings: () => settings, submission: false }),
      queriesAfterWarmup: () => dns.queries.length - warmQueries,
      close: async () => {
        await built.close();
        await cleanUp();
      },
    };
  } catch (err) {
    await cleanUp();
    throw err;
  }
}
