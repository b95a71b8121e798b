// One TCP stream to `<onion>:<port>` through Tor's SocksPort. The `socks` package does the SOCKS5
// exchange; a tap on the socket keeps every byte the proxy sent, because `socks` turns Tor's
// ExtendedErrors replies (0xF0-0xF7) into "rejected connection - undefined" and drops the code.
// The destination always goes out as a host name (ATYP 3): an onion is never resolved locally.
// Each destination gets its own SOCKS username, so Tor (IsolateSOCKSAuth, on by default) builds
// separate circuits per destination. Never throws.
import { connect as netConnect, type Socket } from 'node:net';
import { SocksClient } from 'socks';
import { errorMessage } from '../errors.ts';
import { readSocksServerBytes, socksReplyInfo } from './socks-reply.ts';
import { formatSocksEndpoint, type SocksEndpoint } from './socks-endpoint.ts';

/** Above Tor's own 120 s SocksTimeout, so Tor's precise error code arrives before ours fires. */
export const DEFAULT_TOR_CONNECT_TIMEOUT_MS = 150_000;

export interface TorConnectOptions {
  readonly proxy: SocksEndpoint;
  /** An onion (or any host name): always sent to the proxy unresolved. */
  readonly host: string;
  readonly port: number;
  /** SOCKS username for stream isolation; default `onionmx:<host>`. */
  readonly isolation?: string;
  /** The whole connect: TCP to the proxy, negotiation and Tor's answer. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

export type TorConnectFailureKind =
  /** Tor answered the CONNECT with a non-zero REP (see `rep`). */
  | 'socks-reply'
  /** No answer within timeoutMs. */
  | 'timeout'
  | 'aborted'
  /** The SocksPort could not be reached (tor not running, wrong address). */
  | 'proxy-unreachable'
  /** The proxy refused our authentication methods or credentials. */
  | 'proxy-auth'
  /** The proxy closed the connection or spoke something that is not SOCKS5. */
  | 'proxy-protocol';

export interface TorConnectFailure {
  readonly ok: false;
  readonly kind: TorConnectFailureKind;
  /** Tor's REP byte, for kind `socks-reply`. */
  readonly rep: number | undefined;
  /** `F2`, `06`, ... for replies; otherwise the kind: `timeout`, `proxy-unreachable`, ... */
  readonly code: string;
  /** True when waiting will not heal it (F4, F5, F6). */
  readonly permanent: boolean;
  /** In words, for operators. */
  readonly message: string;
}

export interface TorConnected {
  readonly ok: true;
  /**
   * Connected to the destination. Attach a 'data' listener in the same tick: bytes the proxy
   * delivered with its reply (an SMTP banner, say) are re-emitted on the next setImmediate.
   */
  readonly socket: Socket;
}

export type TorConnectResult = TorConnected | TorConnectFailure;

const ISOLATION_PASSWORD = 'onionmx';

export function isolationUsername(host: string): string {
  return `onionmx:${host.toLowerCase()}`;
}

export function connectViaTor(options: TorConnectOptions): Promise<TorConnectResult> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TOR_CONNECT_TIMEOUT_MS;
  const proxyLabel = formatSocksEndpoint(options.proxy);
  return new Promise((resolve) => {
    const tapped: Buffer[] = [];
    const tap = (chunk: Buffer): void => {
      tapped.push(chunk);
    };
    const raw: Socket = options.proxy.kind === 'tcp' ? netConnect({ host: options.proxy.host, port: options.proxy.port }) : netConnect({ path: options.proxy.path });
    let settled = false;
    let proxyConnected = false;
    const finish = (result: TorConnectResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      raw.off('data', tap);
      raw.off('error', onRawError);
      if (!result.ok) raw.destroy();
      resolve(result);
    };
    const failure = (kind: TorConnectFailureKind, message: string): TorConnectFailure => ({ ok: false, kind, rep: undefined, code: kind, permanent: false, message });

    const onAbort = (): void => {
      finish(failure('aborted', `connect to ${options.host}:${options.port} aborted: ${errorMessage(options.signal?.reason)}`));
    };
    const timer = setTimeout(() => {
      finish(failure('timeout', `no answer from Tor (${proxyLabel}) for ${options.host}:${options.port} within ${timeoutMs} ms`));
    }, timeoutMs);
    if (options.signal?.aborted === true) {
      onAbort();
      return;
    }
    options.signal?.addEventListener('abort', onAbort, { once: true });

    const onRawError = (err: Error): void => {
      if (!proxyConnected) finish(failure('proxy-unreachable', `cannot reach the Tor SocksPort ${proxyLabel}: ${err.message}`));
    };
    raw.on('error', onRawError);
    raw.on('data', tap);
    raw.once('connect', () => {
      proxyConnected = true;
      SocksClient.createConnection({
        proxy: { host: options.proxy.kind === 'tcp' ? options.proxy.host : '127.0.0.1', port: options.proxy.kind === 'tcp' ? options.proxy.port : 9050, type: 5, userId: options.isolation ?? isolationUsername(options.host), password: ISOLATION_PASSWORD },
        command: 'connect',
        destination: { host: options.host, port: options.port },
        // Ours governs; this only keeps the package's own (shorter by default) timer out of the way.
        timeout: timeoutMs + 60_000,
        existing_socket: raw,
      }).then(
        ({ socket }) => {
          finish({ ok: true, socket });
        },
        (err: unknown) => {
          finish(classify(Buffer.concat(tapped), errorMessage(err), options, proxyLabel));
        },
      );
    });
  });
}

function classify(fromProxy: Buffer, packageMessage: string, options: TorConnectOptions, proxyLabel: string): TorConnectFailure {
  const where = `${options.host}:${options.port} via ${proxyLabel}`;
  const read = readSocksServerBytes(fromProxy);
  switch (read.stage) {
    case 'reply': {
      const info = socksReplyInfo(read.rep);
      return { ok: false, kind: 'socks-reply', rep: read.rep, code: info.code, permanent: info.permanent, message: `Tor refused ${where}: ${info.words} (SOCKS reply 0x${info.code})` };
    }
    case 'no-acceptable-method':
      return { ok: false, kind: 'proxy-auth', rep: undefined, code: 'proxy-auth', permanent: false, message: `the SOCKS proxy ${proxyLabel} accepts neither username/password nor no authentication` };
    case 'auth-failed':
      return { ok: false, kind: 'proxy-auth', rep: undefined, code: 'proxy-auth', permanent: false, message: `the SOCKS proxy ${proxyLabel} rejected the isolation credentials (status ${read.status})` };
    case 'malformed':
      return { ok: false, kind: 'proxy-protocol', rep: undefined, code: 'proxy-protocol', permanent: false, message: `${proxyLabel} does not speak SOCKS5: ${read.detail}` };
    case 'incomplete':
      return { ok: false, kind: 'proxy-protocol', rep: undefined, code: 'proxy-protocol', permanent: false, message: `the SOCKS proxy ${proxyLabel} ended the exchange for ${where} without an answer (${packageMessage})` };
  }
}
