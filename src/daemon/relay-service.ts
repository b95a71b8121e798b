// The relay as a part of the daemon: its LMTP and SMTP listeners, the upstream half they deliver
// through, reload (the next transaction uses the new resolver and settings; new upstream settings
// get a new pool while the old one finishes what it carries) and drain.
import type { Config } from '../config/schema.ts';
import type { Logger } from '../log.ts';
import type { DecisionSource } from '../lookup/answerer.ts';
import type { Metrics } from '../metrics/index.ts';
import type { SocketAccess } from '../net/unix-socket.ts';
import { createRelayServer, type RelayListenerKind, type RelayServer, type RelaySettings } from '../relay/index.ts';
import { createUpstreams, type UpstreamOptions, type Upstreams } from '../relay/upstream/index.ts';
import { parseSocksEndpoint } from '../tor/socks-endpoint.ts';

export interface RelayServiceOptions {
  /** The daemon's current config (swapped on reload). */
  readonly config: () => Config;
  /** The resolver with the same health policy as the lookup servers. */
  readonly resolver: () => DecisionSource;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** Owner, group and mode of the relay's unix sockets. */
  readonly socketAccess: SocketAccess;
}

/** What the upstream half is created with, from the config (tor: for Tor, relay: for the rest). */
export function upstreamOptionsFrom(config: Config): Omit<UpstreamOptions, 'hooks' | 'logger'> {
  const socks = parseSocksEndpoint(config.tor.socks);
  if (!socks.ok) throw new Error(`cannot start the relay: tor.socks: ${socks.reason}`);
  const r = config.relay;
  return {
    proxy: socks.endpoint,
    torConnectTimeoutMs: config.tor.connectTimeoutMs,
    heloName: r.heloName,
    starttls: r.starttls,
    timeouts: { ...r.timeouts },
    pool: { idleMs: r.pool.idleTimeMs, maxPerDestination: r.pool.maxPerOnion, maxTotal: r.pool.maxTotal },
  };
}

/** Transactions the old pool still carries after a reload get this long (the longest RFC 5321 wait). */
const RETIRED_POOL_GRACE_MS = 600_000;

export class RelayService {
  readonly #o: RelayServiceOptions;
  readonly #servers: RelayServer[] = [];
  #upstreams: Upstreams | undefined;
  #upstreamKey = '';
  readonly #retiring = new Set<Promise<void>>();
  #listeners: Partial<Record<RelayListenerKind, string>> = {};

  constructor(options: RelayServiceOptions) {
    this.#o = options;
  }

  get listeners(): Partial<Record<RelayListenerKind, string>> {
    return this.#listeners;
  }

  get connectionCount(): number {
    return this.#servers.reduce((n, s) => n + s.connectionCount, 0);
  }

  get upstreamSessionsOpen(): number {
    return this.#upstreams?.openCount ?? 0;
  }

  async start(): Promise<Partial<Record<RelayListenerKind, string>>> {
    const config = this.#o.config();
    this.#replaceUpstreams(config);
    const wanted: [RelayListenerKind, string | undefined][] = [
      ['lmtp', config.relay.listen],
      ['smtp', config.relay.smtpListen],
    ];
    for (const [kind, spec] of wanted) {
      if (spec === undefined) continue;
      const server = createRelayServer({
        kind,
        settings: () => this.#settings(),
        logger: this.#o.log,
        maxConnections: config.relay.maxConnections,
        idleTimeoutMs: config.relay.idleTimeoutMs,
        ...this.#o.socketAccess,
        onDelivery: (report) => {
          this.#o.metrics.relayDelivery(report);
        },
      });
      this.#servers.push(server);
      this.#listeners[kind] = (await server.listen(spec)).spec;
    }
    return this.#listeners;
  }

  /** After the daemon swapped its config: warns about what needs a restart, renews the pool if its settings changed. */
  reload(previous: Config, next: Config): void {
    const a = previous.relay;
    const b = next.relay;
    if (a.listen !== b.listen || a.smtpListen !== b.smtpListen || a.maxConnections !== b.maxConnections || a.idleTimeoutMs !== b.idleTimeoutMs) {
      this.#o.log.warn('relay listen addresses, max_connections or idle_timeout changed: restart required for that to take effect');
    }
    if (this.#upstreams !== undefined) this.#replaceUpstreams(next);
  }

  async close(graceMs: number): Promise<void> {
    await Promise.all(this.#servers.map((s) => s.close(graceMs)));
    // Every transaction has ended (or was aborted): idle sessions get their QUIT. A pool retired by
    // a reload gets no more than the grace either.
    const capped = new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref());
    await Promise.all([this.#upstreams?.close(Math.min(graceMs, 5000)), Promise.race([Promise.all(this.#retiring), capped])]);
  }

  health(): Record<string, unknown> {
    if (this.#servers.length === 0) return { relay: 'disabled' };
    return {
      relay: {
        listeners: this.#listeners,
        connectionsOpen: this.connectionCount,
        upstreamSessionsOpen: this.#upstreams?.openCount ?? 0,
        upstreamSessionsIdle: this.#upstreams?.idleCount ?? 0,
      },
    };
  }

  #settings(): RelaySettings {
    const config = this.#o.config();
    const upstreams = this.#upstreams;
    if (upstreams === undefined) throw new Error('relay not started');
    return {
      resolver: this.#o.resolver(),
      upstreams,
      heloName: config.relay.heloName,
      maxMessageSize: config.relay.maxMessageSize,
      maxRecipients: config.relay.maxRecipients,
      // The routing header never leaves the host, whatever the MTA's header checks did.
      deleteHeaders: [config.header.name],
    };
  }

  #replaceUpstreams(config: Config): void {
    const options = upstreamOptionsFrom(config);
    const key = JSON.stringify(options);
    if (key === this.#upstreamKey) return;
    const old = this.#upstreams;
    this.#upstreams = createUpstreams({
      ...options,
      logger: this.#o.log.child({ relay: 'upstream' }),
      hooks: {
        onSession: (event) => {
          this.#o.metrics.relayUpstreamSession(event);
        },
      },
    });
    this.#upstreamKey = key;
    if (old !== undefined) {
      this.#o.log.info('relay upstream settings changed: new transactions use a new pool; the old one finishes what it carries');
      const retiring = old.close(RETIRED_POOL_GRACE_MS).finally(() => this.#retiring.delete(retiring));
      this.#retiring.add(retiring);
    }
  }
}
