// Every metric the daemon exports, on a registry of its own (not prom-client's global one, so
// two daemons in one test process never mix counts). Parts report through these methods; live
// values (open connections, cache size, onion health) are read at scrape time.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Decision } from '../resolve/types.ts';
import type { DnsQueryResult } from '../resolve/dns/index.ts';
import type { ProbeResult } from '../tor/probe.ts';
import type { OnionHealth } from '../tor/health.ts';
import type { DeliveryReport } from '../relay/inbound/delivery.ts';

export interface LiveSources {
  milterConnectionsOpen?: () => number;
  srvCacheEntries?: () => number;
  onionHealth?: () => readonly OnionHealth[];
  relayConnectionsOpen?: () => number;
  relayUpstreamSessionsOpen?: () => number;
}

/** An upstream session event from the relay's upstream half (UpstreamHooks.onSession). */
export interface RelaySessionEvent {
  readonly kind: 'new' | 'reused' | 'failed';
  readonly torCode?: string;
}

const LATENCY_BUCKETS = [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10];
/** A delivery through Tor: a reused session takes tens of ms, a new rendezvous seconds, a timeout minutes. */
const DELIVERY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600];

export class Metrics {
  readonly registry = new Registry();
  readonly live: LiveSources = {};
  readonly #decisions: Counter<'outcome' | 'source' | 'reason'>;
  readonly #decisionSeconds: Histogram<'outcome'>;
  readonly #tempfails: Counter<'reason'>;
  readonly #dnsQueries: Counter<'result' | 'transport'>;
  readonly #dnsSeconds: Histogram<'result'>;
  readonly #cacheLookups: Counter<'result'>;
  readonly #milterConnections: Counter;
  readonly #milterErrors: Counter<'kind'>;
  readonly #lookupRequests: Counter<'server' | 'result'>;
  readonly #probes: Counter<'onion' | 'result' | 'code'>;
  readonly #relayDeliveries: Counter<'outcome' | 'listener'>;
  readonly #relayTorErrors: Counter<'code'>;
  readonly #relaySessions: Counter<'kind'>;
  readonly #relayDeliverySeconds: Histogram;

  constructor(options: { readonly processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'onionmx_' });
    this.#decisions = new Counter({ name: 'onionmx_decisions_total', help: 'Routing decisions by outcome (route, none, tempfail, reject), route source and reason', labelNames: ['outcome', 'source', 'reason'], registers });
    this.#decisionSeconds = new Histogram({ name: 'onionmx_decision_duration_seconds', help: 'Time a recipient waited for its lookup (0 when maps or the cache answered at once)', labelNames: ['outcome'], buckets: LATENCY_BUCKETS, registers });
    this.#tempfails = new Counter({ name: 'onionmx_tempfails_total', help: 'Recipients answered with a temporary failure, by reason', labelNames: ['reason'], registers });
    this.#dnsQueries = new Counter({ name: 'onionmx_dns_queries_total', help: 'SRV queries sent by the stub resolver, by result (NOERROR, NXDOMAIN or failure reason)', labelNames: ['result', 'transport'], registers });
    this.#dnsSeconds = new Histogram({ name: 'onionmx_dns_query_duration_seconds', help: 'SRV query latency, all attempts and servers together', labelNames: ['result'], buckets: LATENCY_BUCKETS, registers });
    this.#cacheLookups = new Counter({ name: 'onionmx_srv_cache_lookups_total', help: 'SRV cache lookups by result (hit, miss)', labelNames: ['result'], registers });
    this.#milterConnections = new Counter({ name: 'onionmx_milter_connections_total', help: 'Milter connections (MTA sessions) opened', registers });
    this.#milterErrors = new Counter({ name: 'onionmx_milter_errors_total', help: 'Milter errors by kind: hook-failed, hook-timeout, bad-reply (answered with the failure policy), protocol, session (connection closed)', labelNames: ['kind'], registers });
    this.#lookupRequests = new Counter({ name: 'onionmx_lookup_requests_total', help: 'Lookup-server requests (socketmap, tcp_table, sendmail, readsocket) by result', labelNames: ['server', 'result'], registers });
    this.#probes = new Counter({ name: 'onionmx_probes_total', help: 'Health probes per onion by result (reachable, unreachable) and code (Tor code F0-F7/01-08, timeout, ...)', labelNames: ['onion', 'result', 'code'], registers });

    this.#relayDeliveries = new Counter({ name: 'onionmx_relay_deliveries_total', help: 'Relay recipients per delivery attempt by outcome (delivered, deferred, bounced: what the MTA was told) and listener (lmtp, smtp)', labelNames: ['outcome', 'listener'], registers });
    this.#relayTorErrors = new Counter({ name: 'onionmx_relay_tor_errors_total', help: 'Relay upstream sessions Tor could not open, by code (Tor code F0-F7/01-08, timeout, proxy-unreachable, ...)', labelNames: ['code'], registers });
    this.#relaySessions = new Counter({ name: 'onionmx_relay_upstream_sessions_total', help: 'Relay upstream sessions by kind: new (a Tor rendezvous), reused (from the pool), failed', labelNames: ['kind'], registers });
    this.#relayDeliverySeconds = new Histogram({ name: 'onionmx_relay_delivery_duration_seconds', help: 'Relay delivery attempts (one inbound transaction), first RCPT to final reply', buckets: DELIVERY_BUCKETS, registers });

    const live = this.live;
    new Gauge({ name: 'onionmx_relay_connections_open', help: 'MTA connections to the relay open now', registers, collect() { this.set(live.relayConnectionsOpen?.() ?? 0); } });
    new Gauge({ name: 'onionmx_relay_upstream_sessions_open', help: 'Relay sessions to onions open now (in use and idle in the pool)', registers, collect() { this.set(live.relayUpstreamSessionsOpen?.() ?? 0); } });
    new Gauge({ name: 'onionmx_milter_connections_open', help: 'Milter connections open now', registers, collect() { this.set(live.milterConnectionsOpen?.() ?? 0); } });
    new Gauge({ name: 'onionmx_srv_cache_entries', help: 'Entries in the SRV cache (positive, negative and failures)', registers, collect() { this.set(live.srvCacheEntries?.() ?? 0); } });
    const healthOf = (): readonly OnionHealth[] => live.onionHealth?.() ?? [];
    new Gauge({
      name: 'onionmx_onion_reachable', help: 'Last health probe of an onion route: 1 reachable, 0 failed', labelNames: ['onion'], registers,
      collect() {
        this.reset();
        for (const h of healthOf()) if (h.reachable !== undefined) this.set({ onion: h.onion }, h.reachable ? 1 : 0);
      },
    });
    new Gauge({
      name: 'onionmx_onion_consecutive_failures', help: 'Failed health probes in a row per onion route', labelNames: ['onion'], registers,
      collect() {
        this.reset();
        for (const h of healthOf()) this.set({ onion: h.onion }, h.consecutiveFailures);
      },
    });
    new Gauge({
      name: 'onionmx_onion_unreachable', help: '1 when an onion route failed health.failures_before_unreachable probes in a row (on_unreachable applies)', labelNames: ['onion'], registers,
      collect() {
        this.reset();
        for (const h of healthOf()) this.set({ onion: h.onion }, h.unreachable ? 1 : 0);
      },
    });
    new Gauge({
      name: 'onionmx_onion_last_probe_timestamp_seconds', help: 'Unix time of the last finished health probe per onion', labelNames: ['onion'], registers,
      collect() {
        this.reset();
        for (const h of healthOf()) if (h.lastProbeAt !== undefined) this.set({ onion: h.onion }, h.lastProbeAt / 1000);
      },
    });
    new Gauge({
      name: 'onionmx_onion_last_error', help: 'Always 1; the code label is the last failure of an onion route (Tor code F0-F7, 01-08, timeout, ...)', labelNames: ['onion', 'code'], registers,
      collect() {
        this.reset();
        for (const h of healthOf()) if (h.lastErrorCode !== undefined) this.set({ onion: h.onion, code: h.lastErrorCode }, 1);
      },
    });
  }

  decision(d: Decision, latencyMs: number): void {
    const source = d.kind === 'route' ? d.source : '';
    const reason = d.kind === 'none' || d.kind === 'tempfail' ? d.reason : '';
    this.#decisions.inc({ outcome: d.kind, source, reason });
    this.#decisionSeconds.observe({ outcome: d.kind }, latencyMs / 1000);
    if (d.kind === 'tempfail') this.#tempfails.inc({ reason: d.reason });
  }

  dnsQuery(result: DnsQueryResult, latencyMs: number): void {
    const label = result.ok ? result.rcode : result.reason;
    this.#dnsQueries.inc({ result: label, transport: result.ok ? result.transport : '' });
    this.#dnsSeconds.observe({ result: label }, latencyMs / 1000);
  }

  cacheLookup(hit: boolean): void {
    this.#cacheLookups.inc({ result: hit ? 'hit' : 'miss' });
  }

  milterConnection(): void {
    this.#milterConnections.inc();
  }

  milterError(kind: string): void {
    this.#milterErrors.inc({ kind });
  }

  /** For the lookup servers: `server` is socketmap, tcp_table, sendmail or readsocket. */
  lookupRequest(server: string, result: string): void {
    this.#lookupRequests.inc({ server, result });
  }

  probe(result: ProbeResult): void {
    this.#probes.inc({ onion: result.onion, result: result.ok ? 'reachable' : 'unreachable', code: result.ok ? '' : result.code });
  }

  /** One relay delivery attempt: each recipient's outcome, and the attempt's duration. */
  relayDelivery(report: DeliveryReport): void {
    for (const r of report.recipients) this.#relayDeliveries.inc({ outcome: r.outcome, listener: report.listener });
    this.#relayDeliverySeconds.observe(report.ms / 1000);
  }

  relayUpstreamSession(event: RelaySessionEvent): void {
    this.#relaySessions.inc({ kind: event.kind });
    if (event.kind === 'failed' && event.torCode !== undefined) this.#relayTorErrors.inc({ code: event.torCode });
  }

  /** Prometheus text exposition format. */
  async text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
