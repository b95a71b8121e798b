// Builds the resolver a config describes: the operator's maps, the bundled OnionMX map, the DNS
// stub resolver behind the SRV cache, and the policy. Map problems are logged with file:line;
// an operator map that cannot be loaded at all is an error (pins might be missing).
import { fileURLToPath } from 'node:url';
import type { Logger } from '../log.ts';
import type { Config } from '../config/schema.ts';
import { loadStaticMapsOffThread, type StaticMap } from './maps/index.ts';
import { createStubResolver, type DnsQueryResult, type DnsServer, type PipelinedTcpChannels } from './dns/index.ts';
import { isOnionName } from './onion.ts';
import { createSrvSource, type CachedSrvSource } from './srv-source.ts';
import { Resolver } from './resolver.ts';

export const BUNDLED_MAP_PATH = fileURLToPath(new URL('./bundled/onionmx-map.yml', import.meta.url));

export interface BuiltResolver {
  readonly ok: true;
  readonly resolver: Resolver;
  readonly operatorMaps: StaticMap;
  readonly bundledMap: StaticMap | undefined;
  readonly srv: CachedSrvSource | undefined;
  /** The servers SRV lookups go to (resolv.conf's when dns.servers is empty), AD trust resolved; empty without SRV. */
  readonly dnsServers: readonly DnsServer[];
  readonly mapSummary: Record<string, unknown>;
  close(): Promise<void>;
}

export type BuildResult = BuiltResolver | { readonly ok: false; readonly errors: readonly string[] };

/** Observation points for metrics; none of them may throw or block. */
export interface ResolverHooks {
  readonly onDnsQuery?: (result: DnsQueryResult, latencyMs: number) => void;
  readonly onCacheLookup?: (hit: boolean) => void;
}

export async function buildResolver(config: Config, log: Logger, hooks: ResolverHooks = {}): Promise<BuildResult> {
  const parentMatch = { parentMatch: config.mapParentMatch };
  const operatorMaps = await loadStaticMapsOffThread(config.maps, parentMatch);
  for (const p of operatorMaps.problems) {
    if (p.severity === 'error') log.error({ code: p.code }, `map: ${p.message}`);
    else log.warn({ code: p.code }, `map: ${p.message}`);
  }
  if (!operatorMaps.isComplete) {
    const errors = operatorMaps.problems.filter((p) => p.severity === 'error' && ['unreadable', 'yaml-syntax', 'not-a-mapping'].includes(p.code)).map((p) => p.message);
    return { ok: false, errors: errors.length > 0 ? errors : ['a map could not be loaded'] };
  }
  let bundledMap: StaticMap | undefined;
  if (config.bundledMap) {
    bundledMap = await loadStaticMapsOffThread([BUNDLED_MAP_PATH], parentMatch);
    // The bundled map's defects are known upstream data, not the operator's to fix: one line
    // that says so, so a count of problems at every start does not look like trouble.
    log.info({ ...bundledMap.stats, problems: bundledMap.problems.length }, bundledMapLoaded(bundledMap));
    if (!bundledMap.isComplete) return { ok: false, errors: [`the bundled OnionMX map could not be loaded from ${BUNDLED_MAP_PATH}`] };
  }
  let srv: CachedSrvSource | undefined;
  let dnsServers: readonly DnsServer[] = [];
  let dnsOverTor: PipelinedTcpChannels | undefined;
  if (config.srv.enabled) {
    if (config.dns.viaTor) {
      const { dnsOverTorChannels } = await import('../tor/dns-over-tor.ts');
      const over = dnsOverTorChannels(config);
      if (!over.ok) return { ok: false, errors: [over.error] };
      dnsOverTor = over.channels;
    }
    const stub = createStubResolver({
      ...(config.dns.servers.length > 0
        ? { servers: config.dns.servers.map((s) => (s.trustAd || (config.dns.viaTor && isOnionName(s.address)) ? { address: s.address, port: s.port, trustAd: true } : { address: s.address, port: s.port })) }
        : {}),
      attemptTimeoutMs: config.dns.timeoutMs,
      deadlineMs: config.dns.deadlineMs,
      logger: log,
      ...(dnsOverTor === undefined ? {} : { streamExchange: dnsOverTor.exchange.bind(dnsOverTor) }),
    });
    if (stub.servers.length === 0) return { ok: false, errors: ['dns.servers is empty and /etc/resolv.conf names no nameserver'] };
    dnsServers = stub.servers;
    const onDnsQuery = hooks.onDnsQuery;
    const observed: typeof stub = onDnsQuery === undefined ? stub : {
      servers: stub.servers,
      stats: stub.stats,
      query: async (name, type, options) => {
        const started = performance.now();
        const result = await stub.query(name, type, options);
        onDnsQuery(result, performance.now() - started);
        return result;
      },
    };
    srv = createSrvSource({
      resolver: observed,
      service: config.srv.service,
      logger: log,
      cache: { maxEntries: config.cache.maxEntries, maxTtlMs: config.cache.maxTtlMs, failureTtlMs: config.cache.failureTtlMs, serveStaleMs: config.cache.serveStaleMs },
    });
  }
  const onCacheLookup = hooks.onCacheLookup;
  // A hit is counted where the cache answers; a miss only where a lookup really starts, so a
  // synchronous peek followed by the asynchronous resolve of the same recipient counts once.
  const srvSource = srv === undefined || onCacheLookup === undefined ? srv : {
    cached: (domain: string) => {
      const hit = srv.cached(domain);
      if (hit !== undefined) onCacheLookup(true);
      return hit;
    },
    lookup: (domain: string, signal?: AbortSignal) => {
      onCacheLookup(false);
      return srv.lookup(domain, signal);
    },
  };
  const resolver = new Resolver({
    operatorMaps,
    bundledMap,
    srv: srvSource,
    dnssec: config.dns.dnssec,
    localDomains: config.policy.localDomains,
    ignoreDomains: config.policy.ignoreDomains,
    onLookupFailure: config.policy.onLookupFailure,
  });
  const mapSummary = {
    operator: operatorMaps.stats,
    ...(bundledMap === undefined ? {} : { bundled: { onions: bundledMap.stats.onions, domains: bundledMap.stats.domains } }),
  };
  const close = (): Promise<void> => {
    dnsOverTor?.close();
    return Promise.resolve();
  };
  return { ok: true, resolver, operatorMaps, bundledMap, srv, dnsServers, mapSummary, close };
}

function bundledMapLoaded(map: StaticMap): string {
  if (map.problems.length === 0) return 'bundled OnionMX map loaded';
  const byCode = new Map<string, number>();
  for (const p of map.problems) byCode.set(p.code, (byCode.get(p.code) ?? 0) + 1);
  const kinds = [...byCode].map(([code, n]) => `${n} ${code}`).join(', ');
  const one = map.problems.length === 1;
  return `bundled OnionMX map loaded; its ${map.problems.length} ${one ? 'problem' : 'problems'} (${kinds}) ${one ? 'is a known defect' : 'are known defects'} of the upstream map, skipped and harmless: onionmx-milter map check ${BUNDLED_MAP_PATH} lists them`;
}
