// Wires the parts into one running daemon: the resolver built from the config, the milter
// listener(s) with the routing filter, reload and drain. Construction is separate from listening
// (start), so tests can build a daemon from a config object and drive it.
import type { Logger } from '../log.ts';
import type { Config, SocketAccessConfig } from '../config/schema.ts';
import type { SocketAccess } from '../net/unix-socket.ts';
import { createMilterServer, type MilterErrorKind, type MilterServer } from '../milter/index.ts';
import type { FilterSpec } from '../milter/types.ts';
import { createRoutingFilter, type RoutingSettings } from '../routing/milter-filter.ts';
import type { HeaderFormatSpec } from '../routing/header-value.ts';
import { buildResolver, type BuiltResolver, type ResolverHooks } from '../resolve/from-config.ts';
import { dnsTrustReport } from '../resolve/dns-trust.ts';
import { Metrics, startMetricsServer, type MetricsServer } from '../metrics/index.ts';
import { HealthChecker, applyHealthPolicy, withHealthPolicy } from '../tor/health.ts';
import { parseSocksEndpoint } from '../tor/socks-endpoint.ts';
import { LookupAnswerer, createLookupServer, type DecisionSource, type LookupOutcome, type LookupProtocol, type LookupServer, type LookupSettings } from '../lookup/index.ts';
import type { Decision } from '../resolve/types.ts';
import type { RelayService } from './relay-service.ts';
import type { RelayListenerKind } from '../relay/index.ts';

export interface DaemonListeners {
  readonly milter: string;
  readonly submission: string | undefined;
  /** The /metrics and /healthz endpoint, when metrics.listen is set. */
  readonly metrics: string | undefined;
  /** The lookup servers configured under `lookup:`, by protocol. */
  readonly lookup: Partial<Record<LookupProtocol, string>>;
  /** The relay's listeners (relay.listen: lmtp, relay.smtp_listen: smtp). */
  readonly relay: Partial<Record<RelayListenerKind, string>>;
}

export interface DaemonOptions {
  /**
   * Owner and group for unix sockets whose section sets none: the account a root-started daemon
   * drops to, so its sockets belong to it rather than to root.
   */
  readonly socketDefaults?: { readonly owner: number; readonly group: number } | undefined;
}

export class Daemon {
  #config: Config;
  #built: BuiltResolver | undefined;
  #settings: RoutingSettings | undefined;
  readonly #log: Logger;
  readonly #servers: MilterServer[] = [];
  readonly #lookupServers: LookupServer[] = [];
  #listeners: DaemonListeners | undefined;
  /** Counters live across reloads; exported only when metrics.listen is set. */
  readonly metrics: Metrics;
  #metricsServer: MetricsServer | undefined;
  #health: HealthChecker | undefined;
  #relay: RelayService | undefined;
  readonly #startedAt = Date.now();
  readonly #socketDefaults: DaemonOptions['socketDefaults'];

  constructor(config: Config, log: Logger, options: DaemonOptions = {}) {
    this.#config = config;
    this.#log = log;
    // Process metrics (an event-loop delay histogram sampling every 10 ms, a GC observer) cost
    // memory and wake-ups; only a scraped daemon needs them.
    this.metrics = new Metrics({ processMetrics: config.metrics.listen !== undefined });
    this.#socketDefaults = options.socketDefaults;
  }

  get config(): Config {
    return this.#config;
  }

  get listeners(): DaemonListeners | undefined {
    return this.#listeners;
  }

  /** Builds the resolver and starts listening. Throws with one clear message on failure. */
  async start(): Promise<DaemonListeners> {
    const built = await buildResolver(this.#config, this.#log, this.#resolverHooks());
    if (!built.ok) throw new Error(`cannot start: ${built.errors.join('; ')}`);
    this.#built = built;
    this.#health = this.#startHealth();
    this.#settings = settingsFrom(this.#config, built, this.#health, this.#log);
    const c = this.#config.milter;
    const common = {
      logger: this.#log,
      maxConnections: c.maxConnections,
      idleTimeoutMs: c.idleTimeoutMs,
      ...this.#socketAccess(c),
      onError: (kind: MilterErrorKind) => {
        this.metrics.milterError(kind);
      },
    };
    const settings = (): RoutingSettings => {
      if (this.#settings === undefined) throw new Error('daemon not started');
      return this.#settings;
    };
    const onDecision = this.metrics.decision.bind(this.metrics);
    const counted = (filter: FilterSpec): FilterSpec => ({
      ...filter,
      open: (ctx) => {
        this.metrics.milterConnection();
        return filter.open(ctx);
      },
    });
    const smtpd = createMilterServer({ ...common, filter: counted(createRoutingFilter({ settings, submission: false, onDecision })) });
    this.#servers.push(smtpd);
    const milter = (await smtpd.listen(c.listen)).spec;
    let submission: string | undefined;
    if (c.submissionListen !== undefined) {
      const local = createMilterServer({ ...common, filter: counted(createRoutingFilter({ settings, submission: true, onDecision })) });
      this.#servers.push(local);
      submission = (await local.listen(c.submissionListen)).spec;
    }
    this.metrics.live.milterConnectionsOpen = () => this.#servers.reduce((n, s) => n + s.connectionCount, 0);
    this.metrics.live.srvCacheEntries = () => this.#built?.srv?.cache.size ?? 0;
    const health = this.#health;
    if (health !== undefined) this.metrics.live.onionHealth = () => health.snapshot();
    let metrics: string | undefined;
    if (this.#config.metrics.listen !== undefined) {
      this.#metricsServer = await startMetricsServer({ listen: this.#config.metrics.listen, metrics: this.metrics, log: this.#log, health: () => this.healthReport() });
      metrics = this.#metricsServer.spec;
    }
    const lookup = await this.#startLookupServers();
    const relay = await this.#startRelay();
    this.#listeners = { milter, submission, metrics, lookup, relay };
    this.#log.info({ milter, submission, lookup, relay, maps: built.mapSummary, dns: this.#dnsReport(built) }, 'onionmx-milter started');
    return this.#listeners;
  }

  /**
   * Swaps in a new config and freshly loaded maps, atomically: connections opened from now on use
   * them, open connections keep the snapshot they started with. A broken config changes nothing.
   */
  async reload(next: Config): Promise<void> {
    const built = await buildResolver(next, this.#log, this.#resolverHooks());
    if (!built.ok) throw new Error(built.errors.join('; '));
    const old = this.#built;
    const before = this.#config.milter;
    if (before.listen !== next.milter.listen || before.submissionListen !== next.milter.submissionListen) {
      this.#log.warn('milter listen addresses changed: restart required for that to take effect');
    }
    const previous = this.#config;
    this.#config = next;
    this.#built = built;
    this.#settings = settingsFrom(next, built, this.#health, this.#log);
    this.#relay?.reload(previous, next);
    this.#log.info({ maps: built.mapSummary, dns: this.#dnsReport(built) }, 'configuration reloaded');
    await old?.close();
  }

  /** Stops accepting, lets sessions finish until graceMs, then closes the rest. */
  async close(graceMs: number): Promise<void> {
    await Promise.all([...this.#servers.map((s) => s.close(graceMs)), ...this.#lookupServers.map((s) => s.close(graceMs)), this.#relay?.close(graceMs)]);
    await this.#health?.close();
    await this.#metricsServer?.close();
    await this.#built?.close();
  }

  /** The /healthz body: running, open milter connections, and onion routes marked unreachable. */
  healthReport(): { readonly ok: boolean } & Record<string, unknown> {
    const onions = this.#health?.snapshot() ?? [];
    return {
      ok: this.#listeners !== undefined,
      uptimeSeconds: Math.round((Date.now() - this.#startedAt) / 1000),
      milterConnectionsOpen: this.#servers.reduce((n, s) => n + s.connectionCount, 0),
      ...(this.#relay?.health() ?? { relay: 'disabled' }),
      health: this.#health === undefined ? 'disabled' : { onUnreachable: this.#config.health.onUnreachable, onions: onions.length, unreachable: onions.filter((o) => o.unreachable).map((o) => ({ onion: o.onion, port: o.port, failures: o.consecutiveFailures, code: o.lastErrorCode, message: o.lastMessage })) },
    };
  }

  /** The health checker, when health.enabled (tests and the CLI may drive its ticks). */
  get health(): HealthChecker | undefined {
    return this.#health;
  }

  /** The socketmap, tcp_table, Sendmail and Exim servers, sharing the milter's resolver and cache. */
  async #startLookupServers(): Promise<Partial<Record<LookupProtocol, string>>> {
    const l = this.#config.lookup;
    const wanted: [LookupProtocol, string | undefined][] = [
      ['socketmap', l.socketmap],
      ['tcp-table', l.tcpTable],
      ['sendmail', l.sendmail],
      ['exim', l.readsocket],
    ];
    const settings = (): LookupSettings => {
      if (this.#built === undefined) throw new Error('daemon not started');
      return { resolver: this.#lookupResolver(this.#built.resolver), transport: this.#config.header.transport, relayNexthop: this.#config.relay.postfixNexthop, budgetMs: this.#config.lookup.budgetMs };
    };
    const onOutcome = (outcome: LookupOutcome, protocol: string): void => {
      this.metrics.lookupRequest(protocol, outcome.kind === 'decision' ? outcome.decision.kind : outcome.kind);
    };
    const answerer = new LookupAnswerer({ settings, log: this.#log, onOutcome });
    const out: Partial<Record<LookupProtocol, string>> = {};
    for (const [protocol, spec] of wanted) {
      if (spec === undefined) continue;
      const server = createLookupServer({ protocol, answerer, logger: this.#log, ...this.#socketAccess(l) });
      this.#lookupServers.push(server);
      out[protocol] = (await server.listen(spec)).spec;
    }
    return out;
  }

  /** The relay's listeners and its upstream half, when relay.listen or relay.smtp_listen is set. */
  async #startRelay(): Promise<Partial<Record<RelayListenerKind, string>>> {
    const r = this.#config.relay;
    if (r.listen === undefined && r.smtpListen === undefined) return {};
    // Loaded only when configured: the relay and its SOCKS client are a large share of the heap.
    const { RelayService } = await import('./relay-service.ts');
    const relay = new RelayService({
      config: () => this.#config,
      // Each transaction reads the resolver of the moment: a reload applies to the next one.
      resolver: () => {
        if (this.#built === undefined) throw new Error('daemon not started');
        return this.#lookupResolver(this.#built.resolver);
      },
      metrics: this.metrics,
      log: this.#log,
      socketAccess: this.#socketAccess(this.#config.relay),
    });
    this.#relay = relay;
    this.metrics.live.relayConnectionsOpen = () => relay.connectionCount;
    this.metrics.live.relayUpstreamSessionsOpen = () => relay.upstreamSessionsOpen;
    return relay.start();
  }

  /** The lookup servers' view of the resolver, with the same health policy as the milter's. */
  #lookupResolver(resolver: DecisionSource): DecisionSource {
    const health = this.#health;
    if (health === undefined) return resolver;
    const policy = this.#config.health.onUnreachable;
    const apply = (d: Decision): Decision => applyHealthPolicy(d, health, policy, this.#log);
    return {
      peekDomain: (domain) => {
        const d = resolver.peekDomain(domain);
        return d === undefined ? undefined : apply(d);
      },
      resolveDomain: async (domain, signal) => apply(await resolver.resolveDomain(domain, signal)),
    };
  }

  /** A section's unix-socket owner, group and mode, with the daemon's defaults for what it leaves unset. */
  #socketAccess(section: SocketAccessConfig): SocketAccess {
    const d = this.#socketDefaults;
    return { socketOwner: section.socketOwner ?? d?.owner, socketGroup: section.socketGroup ?? d?.group, socketMode: section.socketMode };
  }

  /** The DNS servers and their AD trust for the start and reload lines; warns when DNSSEC can never be met. */
  #dnsReport(built: BuiltResolver): Record<string, unknown> | string {
    if (!this.#config.srv.enabled) return 'off (srv.enabled: false)';
    const report = dnsTrustReport(this.#config, built.dnsServers);
    if (report.warning !== undefined) this.#log.warn({ dnssec: report.dnssec, servers: report.servers }, report.warning);
    return { servers: report.servers, from: report.from, dnssec: report.dnssec, ...(this.#config.dns.viaTor ? { viaTor: true } : {}) };
  }

  #resolverHooks(): ResolverHooks {
    return { onDnsQuery: this.metrics.dnsQuery.bind(this.metrics), onCacheLookup: this.metrics.cacheLookup.bind(this.metrics) };
  }

  /** Health settings are read at start; changing them needs a restart (the checker keeps its state). */
  #startHealth(): HealthChecker | undefined {
    const h = this.#config.health;
    if (!h.enabled) return undefined;
    const socks = parseSocksEndpoint(this.#config.tor.socks);
    if (!socks.ok) throw new Error(`cannot start: tor.socks: ${socks.reason}`);
    const connectTimeoutMs = this.#config.tor.connectTimeoutMs;
    const checker = new HealthChecker({
      intervalMs: h.intervalMs,
      failuresBeforeUnreachable: h.failuresBeforeUnreachable,
      concurrency: h.concurrency,
      forgetAfterMs: h.forgetAfterMs,
      log: this.#log,
      // The probe's SOCKS client is loaded on the first probe, not by every daemon.
      probe: async (target, signal) => (await import('../tor/probe.ts')).probeOnion({ proxy: socks.endpoint, ...target, connectTimeoutMs, signal }),
      onProbe: (result) => {
        this.metrics.probe(result);
      },
    });
    checker.start();
    return checker;
  }
}

function settingsFrom(config: Config, built: BuiltResolver, health: HealthChecker | undefined, log: Logger): RoutingSettings {
  const h = config.header;
  const header: HeaderFormatSpec =
    h.format === 'template' ? { format: 'template', template: h.template ?? '', transport: h.transport } : h.format === 'postfix' ? { format: 'postfix', transport: h.transport } : { format: 'domain-list' };
  return {
    resolver: health === undefined ? built.resolver : withHealthPolicy(built.resolver, health, config.health.onUnreachable, log),
    headerName: h.name,
    header,
    mixedRoutes: config.milter.mixedRoutes,
    mixedRoutesMaxDefer: config.milter.mixedRoutesMaxDefer,
    // A recipient the MTA already routes to our own transport (Sendmail mailertable or Postfix
    // transport_maps answered by our lookup servers) is an onion candidate too.
    routeMailers: [...new Set([...config.policy.routeMailers, config.header.transport])],
  };
}
