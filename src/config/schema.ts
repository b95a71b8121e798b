// The validated, frozen configuration and its built-in defaults. The YAML keys are snake_case
// (as operators write them); the typed values are camelCase. Every default lives here.

export type MixedRoutes = 'defer' | 'allow' | 'default';
export type HeaderFormat = 'postfix' | 'domain-list' | 'template';
export type DnssecPolicy = 'required' | 'optional';
export type LookupFailurePolicy = 'tempfail' | 'none';
export type UnreachablePolicy = 'route' | 'defer' | 'clearnet';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
/** auto: pretty when standard output is a terminal, JSON otherwise (journald, files, pipes). */
export type LogFormat = 'json' | 'pretty' | 'auto';
export type StarttlsPolicy = 'off' | 'opportunistic' | 'required';

export interface DnsServer {
  readonly address: string;
  readonly port: number;
  /** Trust the AD bit from this server although it is not on loopback (loopback servers are always trusted). */
  readonly trustAd: boolean;
}

/**
 * Who may connect to a section's unix-socket listeners (TCP listeners ignore it): the same three
 * keys in every section that listens (milter, lookup, relay). Owner and group are names or ids.
 */
export interface SocketAccessConfig {
  /** undefined: the daemon's user (the `user:` it drops to, when started as root). */
  readonly socketOwner: string | undefined;
  /** undefined: the daemon's group (`group:`, or the primary group of `user:`), or a setgid directory's. */
  readonly socketGroup: string | undefined;
  readonly socketMode: number;
}

export interface Config {
  /** The file this came from, or undefined for built-in defaults. */
  readonly source: string | undefined;
  /** The account to switch to after binding, when started as root (name or uid). */
  readonly user: string | undefined;
  /** Its group (name or gid); undefined: the user's primary group. */
  readonly group: string | undefined;
  readonly milter: SocketAccessConfig & {
    readonly listen: string;
    /** A second listener for Postfix non_smtpd_milters: never rejects or tempfails a recipient. */
    readonly submissionListen: string | undefined;
    readonly mixedRoutes: MixedRoutes;
    readonly mixedRoutesMaxDefer: number;
    readonly idleTimeoutMs: number;
    readonly maxConnections: number;
  };
  readonly header: {
    readonly name: string;
    readonly format: HeaderFormat;
    readonly transport: string;
    readonly template: string | undefined;
  };
  readonly maps: readonly string[];
  readonly bundledMap: boolean;
  readonly mapParentMatch: boolean;
  readonly srv: { readonly enabled: boolean; readonly service: string };
  readonly dns: {
    /** Empty: the nameservers of /etc/resolv.conf. */
    readonly servers: readonly DnsServer[];
    readonly dnssec: DnssecPolicy;
    readonly timeoutMs: number;
    readonly deadlineMs: number;
    readonly viaTor: boolean;
  };
  readonly cache: {
    readonly maxEntries: number;
    readonly maxTtlMs: number;
    readonly failureTtlMs: number;
    readonly serveStaleMs: number;
  };
  readonly policy: {
    readonly routeMailers: readonly string[];
    readonly localDomains: readonly string[];
    readonly ignoreDomains: readonly string[];
    readonly onLookupFailure: LookupFailurePolicy;
  };
  /** Socket access unset here is the milter's. */
  readonly lookup: SocketAccessConfig & {
    readonly socketmap: string | undefined;
    readonly tcpTable: string | undefined;
    readonly sendmail: string | undefined;
    readonly readsocket: string | undefined;
    readonly budgetMs: number;
  };
  readonly tor: {
    readonly socks: string;
    readonly connectTimeoutMs: number;
    /** SocksPort for DNS over Tor (dns.via_tor); undefined: tor.socks. An OnionTrafficOnly port refuses IP resolvers. */
    readonly dnsSocks: string | undefined;
  };
  readonly health: {
    readonly enabled: boolean;
    readonly intervalMs: number;
    readonly onUnreachable: UnreachablePolicy;
    /** Consecutive failed probes before an onion counts as unreachable (defer/clearnet act on it). */
    readonly failuresBeforeUnreachable: number;
    /** Probes in flight at once. */
    readonly concurrency: number;
    /** An onion no route has used for this long is no longer probed. */
    readonly forgetAfterMs: number;
  };
  /** The built-in relay: the MTA hands onion mail to it, it delivers through Tor's SocksPort. */
  readonly relay: SocketAccessConfig & {
    /** The LMTP listener (unix socket or loopback TCP); undefined: the relay is off. */
    readonly listen: string | undefined;
    /** An optional SMTP listener, for MTAs whose transports cannot speak LMTP. */
    readonly smtpListen: string | undefined;
    /**
     * The relay as Postfix's lmtp names it (`unix:/onionmx/relay.sock`): set, the Postfix lookup
     * answers and exports route to `<header.transport>:<this>` instead of to the onion itself.
     */
    readonly postfixNexthop: string | undefined;
    /** Our name in the greeting to the MTA and in EHLO to the onions. */
    readonly heloName: string;
    /** TLS inside Tor: defence in depth only (the onion address already authenticates the server). */
    readonly starttls: StarttlsPolicy;
    readonly maxMessageSize: number;
    readonly maxRecipients: number;
    /** Per listener. */
    readonly maxConnections: number;
    /** How long the relay waits for the MTA (RFC 5321 server timeout). */
    readonly idleTimeoutMs: number;
    /** Waits for the onion's server (RFC 5321 §4.5.3.2 client timeouts). */
    readonly timeouts: {
      readonly greetingMs: number;
      readonly mailMs: number;
      readonly rcptMs: number;
      readonly dataInitMs: number;
      readonly dataBlockMs: number;
      readonly dataDoneMs: number;
    };
    /** Upstream sessions kept open between messages. */
    readonly pool: {
      readonly idleTimeMs: number;
      readonly maxPerOnion: number;
      readonly maxTotal: number;
    };
  };
  readonly metrics: { readonly listen: string | undefined };
  readonly log: { readonly level: LogLevel; readonly format: LogFormat };
}

export const DEFAULT_CONFIG_PATH = '/etc/onionmx-milter/config.yml';

export const defaults: Config = {
  source: undefined,
  user: undefined,
  group: undefined,
  milter: {
    listen: 'inet:127.0.0.1:8895',
    submissionListen: undefined,
    socketOwner: undefined,
    socketGroup: undefined,
    socketMode: 0o660,
    mixedRoutes: 'defer',
    mixedRoutesMaxDefer: 5,
    idleTimeoutMs: 7_210_000,
    maxConnections: 1000,
  },
  header: { name: 'X-Onion-Route', format: 'postfix', transport: 'onionrelay', template: undefined },
  maps: [],
  bundledMap: true,
  mapParentMatch: false,
  srv: { enabled: true, service: '_onion-mx._tcp' },
  dns: { servers: [], dnssec: 'required', timeoutMs: 2000, deadlineMs: 5000, viaTor: false },
  cache: { maxEntries: 100_000, maxTtlMs: 86_400_000, failureTtlMs: 30_000, serveStaleMs: 3_600_000 },
  policy: { routeMailers: ['smtp', 'esmtp', 'relay'], localDomains: [], ignoreDomains: [], onLookupFailure: 'tempfail' },
  lookup: { socketmap: undefined, tcpTable: undefined, sendmail: undefined, readsocket: undefined, budgetMs: 1000, socketOwner: undefined, socketGroup: undefined, socketMode: 0o660 },
  tor: { socks: '127.0.0.1:9050', connectTimeoutMs: 150_000, dnsSocks: undefined },
  health: { enabled: false, intervalMs: 600_000, onUnreachable: 'route', failuresBeforeUnreachable: 3, concurrency: 2, forgetAfterMs: 86_400_000 },
  relay: {
    listen: undefined,
    smtpListen: undefined,
    postfixNexthop: undefined,
    heloName: '[127.0.0.1]',
    starttls: 'opportunistic',
    maxMessageSize: 104_857_600,
    maxRecipients: 1000,
    maxConnections: 100,
    idleTimeoutMs: 300_000,
    timeouts: { greetingMs: 300_000, mailMs: 300_000, rcptMs: 300_000, dataInitMs: 120_000, dataBlockMs: 180_000, dataDoneMs: 600_000 },
    pool: { idleTimeMs: 60_000, maxPerOnion: 10, maxTotal: 100 },
    socketOwner: undefined,
    socketGroup: undefined,
    socketMode: 0o660,
  },
  metrics: { listen: undefined },
  log: { level: 'info', format: 'auto' },
};
