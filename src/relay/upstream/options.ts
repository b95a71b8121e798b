// What the upstream half is configured with, and the defaults. The daemon wires these from the
// relay's configuration; tests pass short timeouts.
import type { Logger } from 'pino';
import type { SocksEndpoint } from '../../tor/socks-endpoint.ts';
import { DEFAULT_TOR_CONNECT_TIMEOUT_MS } from '../../tor/socks-connect.ts';
import type { UpstreamHooks } from './api.ts';

export type StarttlsMode = 'off' | 'opportunistic' | 'required';

/** Every wait of an upstream session, in milliseconds. */
export interface UpstreamTimeouts {
  /** The 220 greeting (RFC 5321 §4.5.3.2.1: 5 minutes). */
  readonly greetingMs: number;
  /** EHLO and HELO (RFC 5321 names none; Postfix's smtp_helo_timeout, 5 minutes). */
  readonly ehloMs: number;
  /** The reply to STARTTLS, and the TLS handshake after it (Postfix's smtp_starttls_timeout, 5 minutes). */
  readonly starttlsMs: number;
  /** MAIL (§4.5.3.2.2: 5 minutes). */
  readonly mailMs: number;
  /** Each RCPT (§4.5.3.2.3: 5 minutes). */
  readonly rcptMs: number;
  /** The 354 to DATA (§4.5.3.2.4: 2 minutes). */
  readonly dataInitMs: number;
  /** Each wait for the socket to drain while sending the message (§4.5.3.2.5: 3 minutes). */
  readonly dataBlockMs: number;
  /** The reply to the final dot (§4.5.3.2.6: 10 minutes). */
  readonly dataDoneMs: number;
  /** RSET before a pooled session is reused (Postfix's smtp_rset_timeout, 20 s): a dead session is replaced quickly. */
  readonly rsetMs: number;
  /** The 221 to QUIT before the socket is closed. */
  readonly quitMs: number;
}

export const DEFAULT_UPSTREAM_TIMEOUTS: UpstreamTimeouts = {
  greetingMs: 300_000,
  ehloMs: 300_000,
  starttlsMs: 300_000,
  mailMs: 300_000,
  rcptMs: 300_000,
  dataInitMs: 120_000,
  dataBlockMs: 180_000,
  dataDoneMs: 600_000,
  rsetMs: 20_000,
  quitMs: 20_000,
};

export interface UpstreamPoolOptions {
  /** How long an idle session waits for the next message before it is QUIT. */
  readonly idleMs?: number;
  /** Sessions (idle and in use, and being opened) per onion:port. */
  readonly maxPerDestination?: number;
  /** Sessions in all. */
  readonly maxTotal?: number;
  /** The longest begin() waits for a session slot before it answers 4.4.5 (the BeginOptions signal may end it sooner). */
  readonly waitMs?: number;
}

export const DEFAULT_POOL = {
  /** Well below the 5 minutes a server waits for the next command (RFC 5321 §4.5.3.2.7), long enough for a queue run's burst. */
  idleMs: 60_000,
  /** A polite share of one onion's server: all Tor clients arrive there from one loopback address. */
  maxPerDestination: 10,
  maxTotal: 100,
  waitMs: 120_000,
} as const satisfies Required<UpstreamPoolOptions>;

export interface UpstreamOptions {
  /** Tor's SocksPort (tor.socks). */
  readonly proxy: SocksEndpoint;
  /** The whole SOCKS connect, above Tor's own 120 s so Tor's precise code arrives first. */
  readonly torConnectTimeoutMs?: number;
  /** Our EHLO/HELO argument. */
  readonly heloName?: string;
  readonly starttls?: StarttlsMode;
  readonly timeouts?: Partial<UpstreamTimeouts>;
  readonly pool?: UpstreamPoolOptions;
  readonly hooks?: UpstreamHooks;
  /** Debug lines only (addresses never; onions and codes). */
  readonly logger?: Logger;
}

/** An address literal names no host of ours and is what the probe sends too. */
export const DEFAULT_HELO_NAME = '[127.0.0.1]';
export const DEFAULT_STARTTLS: StarttlsMode = 'opportunistic';

export interface ResolvedUpstreamOptions {
  readonly proxy: SocksEndpoint;
  readonly torConnectTimeoutMs: number;
  readonly heloName: string;
  readonly starttls: StarttlsMode;
  readonly timeouts: UpstreamTimeouts;
  readonly pool: Required<UpstreamPoolOptions>;
  readonly hooks: UpstreamHooks;
  readonly logger: Logger | undefined;
}

export function resolveUpstreamOptions(options: UpstreamOptions): ResolvedUpstreamOptions {
  return {
    proxy: options.proxy,
    torConnectTimeoutMs: options.torConnectTimeoutMs ?? DEFAULT_TOR_CONNECT_TIMEOUT_MS,
    heloName: options.heloName ?? DEFAULT_HELO_NAME,
    starttls: options.starttls ?? DEFAULT_STARTTLS,
    timeouts: { ...DEFAULT_UPSTREAM_TIMEOUTS, ...options.timeouts },
    pool: { ...DEFAULT_POOL, ...options.pool },
    hooks: options.hooks ?? {},
    logger: options.logger,
  };
}
