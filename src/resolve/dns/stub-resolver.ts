// The stub resolver: sends one question to the configured servers and returns a typed result.
// Defences against off-path spoofing: random 16-bit IDs, a fresh UDP source port per query, 0x20
// case randomisation and strict reply matching (source, ID, exact question). Never throws.
import { randomBytes as cryptoRandomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { RemoteInfo } from 'node:dgram';
import type { Answer, DecodedPacket, RecordType } from 'dns-packet';
import { silentLogger, type Logger } from '../../log.ts';
import { errorMessage } from '../../errors.ts';
import { checkQueryName, randomizeCase } from './names.ts';
import { decodeMessage, describeExtendedError, encodeQuery, extendedErrorsOf, isDnssecBogusCode, matchReply, rcodeOf, recordsOf, Rcode, EDNS_UDP_PAYLOAD_SIZE, type DnsQuestion, type ExtendedDnsError } from './message.ts';
import { isLoopbackAddress, parseResolvConf, type DnsServer } from './resolv-conf.ts';
import { tcpExchange, udpExchange, type Endpoint, type ExchangeOutcome, type OnMessage } from './transport.ts';

/** A server as configured: port defaults to 53, trustAd to "is it loopback". */
export interface DnsServerSpec {
  readonly address: string;
  readonly port?: number;
  readonly trustAd?: boolean;
}

export interface StubResolverOptions {
  /** Servers to ask, in order. Default: the nameserver lines of resolvConfPath. */
  readonly servers?: readonly DnsServerSpec[];
  /** Default /etc/resolv.conf; without it (or without usable lines) 127.0.0.1:53, as glibc does. */
  readonly resolvConfPath?: string;
  /** Per attempt (one query to one server, TCP fallback included). Default 2000 ms or resolv.conf `timeout:`. */
  readonly attemptTimeoutMs?: number;
  /** One deadline for a whole resolution, all attempts and servers together. Default 5000 ms. */
  readonly deadlineMs?: number;
  /** Rounds over the server list. Default 2 or resolv.conf `attempts:`. */
  readonly attempts?: number;
  /** EDNS0 UDP payload size we advertise. Default 1232. */
  readonly udpPayloadSize?: number;
  /** Randomness for IDs and 0x20; default crypto.randomBytes. Tests may inject. */
  readonly randomBytes?: (size: number) => Uint8Array;
  readonly logger?: Logger;
  /**
   * Send every query over this stream transport instead of UDP (DNS over Tor: a persistent,
   * pipelined TCP connection per server, see tcp-pipelined.ts). Same matching, retries and deadline.
   */
  readonly streamExchange?: StreamExchange;
}

/** The shape of tcpExchange; PipelinedTcpChannels.exchange fits it. */
export type StreamExchange = <T>(server: Endpoint, payload: Buffer, onMessage: OnMessage<T, Endpoint>, signal: AbortSignal) => Promise<ExchangeOutcome<T>>;

/**
 * `bogus`: SERVFAIL with an Extended DNS Error saying DNSSEC validation failed (RFC 8914 codes 6-12),
 * from a server whose AD bit we trust; `servfail`: any other SERVFAIL (or an RCODE we do not know).
 */
export type DnsFailureReason = 'servfail' | 'bogus' | 'refused' | 'timeout' | 'truncated' | 'malformed-reply' | 'network' | 'aborted' | 'invalid-name';

/** A usable reply: NOERROR (answers or NODATA) or NXDOMAIN. */
export interface DnsReply {
  readonly ok: true;
  readonly rcode: 'NOERROR' | 'NXDOMAIN';
  /** AD=1 from a server whose AD we trust (see DnsServer.trustAd); otherwise false. */
  readonly authenticated: boolean;
  /** The raw AD bit, whatever the server's trust: for diagnostics only. */
  readonly adBit: boolean;
  readonly answers: readonly Answer[];
  readonly authorities: readonly Answer[];
  /** `address:port` (`[v6]:port`) of the server that answered. */
  readonly server: string;
  readonly transport: 'udp' | 'tcp';
  /** Extended DNS Errors (RFC 8914) on the reply, whatever the server's trust: for diagnostics. Absent when none. */
  readonly extendedErrors?: readonly ExtendedDnsError[];
}

export interface DnsFailure {
  readonly ok: false;
  readonly reason: DnsFailureReason;
  readonly detail: string;
  /** Extended DNS Errors on the reply that failed, whatever the server's trust. Absent when none (or no reply). */
  readonly extendedErrors?: readonly ExtendedDnsError[];
}

export type DnsQueryResult = DnsReply | DnsFailure;

export interface StubResolverStats {
  queries: number;
  udpSent: number;
  tcpSent: number;
  /** Replies that were not accepted, by why; none of them ends an attempt. */
  ignoredWrongSource: number;
  ignoredWrongId: number;
  ignoredWrongQuestion: number;
  ignoredNotResponse: number;
  ignoredUndecodable: number;
  ignoredWrongCase: number;
  /** Servers found not to echo the 0x20 case, now matched case-insensitively. */
  caseFallbacks: number;
  attemptTimeouts: number;
}

export interface StubResolver {
  query(name: string, type: RecordType, options?: { readonly signal?: AbortSignal }): Promise<DnsQueryResult>;
  readonly servers: readonly DnsServer[];
  /** Live counters (read them, do not write). */
  readonly stats: Readonly<StubResolverStats>;
}

const DEFAULTS = { attemptTimeoutMs: 2000, deadlineMs: 5000, attempts: 2 } as const;

/** 0x20 echo behaviour seen per server: 'echoes' once it returned our exact case. */
type CaseEcho = 'unknown' | 'echoes' | 'no-echo';

type Received = { readonly kind: 'reply'; readonly packet: DecodedPacket } | { readonly kind: 'garbage'; readonly detail: string };

export function createStubResolver(options: StubResolverOptions = {}): StubResolver {
  const logger = options.logger ?? silentLogger();
  const conf = options.servers === undefined ? loadResolvConf(options.resolvConfPath ?? '/etc/resolv.conf', logger) : undefined;
  const servers: readonly DnsServer[] = options.servers?.map(toServer) ?? conf?.servers ?? [];
  const attemptTimeoutMs = options.attemptTimeoutMs ?? conf?.attemptTimeoutMs ?? DEFAULTS.attemptTimeoutMs;
  const deadlineMs = options.deadlineMs ?? DEFAULTS.deadlineMs;
  const attempts = options.attempts ?? conf?.attempts ?? DEFAULTS.attempts;
  const udpPayloadSize = options.udpPayloadSize ?? EDNS_UDP_PAYLOAD_SIZE;
  const random = options.randomBytes ?? cryptoRandomBytes;
  const caseEcho = new Map<string, CaseEcho>();
  const stats: StubResolverStats = {
    queries: 0, udpSent: 0, tcpSent: 0, ignoredWrongSource: 0, ignoredWrongId: 0, ignoredWrongQuestion: 0,
    ignoredNotResponse: 0, ignoredUndecodable: 0, ignoredWrongCase: 0, caseFallbacks: 0, attemptTimeouts: 0,
  };

  /** Applies the matching rules to one message; undefined means "not ours, keep waiting". */
  function receive(server: DnsServer, id: number, question: DnsQuestion, message: Buffer): Received | undefined {
    const decoded = decodeMessage(message);
    if (!decoded.ok) {
      stats.ignoredUndecodable++;
      return { kind: 'garbage', detail: decoded.detail };
    }
    const key = label(server);
    switch (matchReply(decoded.packet, id, question)) {
      case 'match':
        if (caseEcho.get(key) !== 'no-echo') caseEcho.set(key, 'echoes');
        return { kind: 'reply', packet: decoded.packet };
      case 'case-mismatch':
        // A server that once echoed our case and now does not: a spoofer guessed the ID, not the case.
        if (caseEcho.get(key) === 'echoes') {
          stats.ignoredWrongCase++;
          return undefined;
        }
        if (caseEcho.get(key) !== 'no-echo') {
          caseEcho.set(key, 'no-echo');
          stats.caseFallbacks++;
          logger.warn({ server: key }, 'DNS server does not echo the 0x20 query case; matching its replies case-insensitively (weaker spoofing protection)');
        }
        return { kind: 'reply', packet: decoded.packet };
      case 'wrong-id':
        stats.ignoredWrongId++;
        return undefined;
      case 'wrong-question':
        stats.ignoredWrongQuestion++;
        return undefined;
      case 'not-a-response':
        stats.ignoredNotResponse++;
        return undefined;
    }
  }

  async function attempt(server: DnsServer, name: string, type: RecordType, signal: AbortSignal): Promise<DnsQueryResult> {
    const bytes = random(2);
    const id = (((bytes[0] ?? 0) << 8) | (bytes[1] ?? 0)) & 0xffff;
    const question: DnsQuestion = { name: randomizeCase(name, random), type };
    const payload = encodeQuery(id, question, udpPayloadSize);
    if (options.streamExchange !== undefined) return streamAttempt(options.streamExchange, server, id, question, payload, signal);
    let garbage: string | undefined;
    stats.udpSent++;
    const udp = await udpExchange(server, payload, (message, from: RemoteInfo) => {
      if (from.address !== server.address || from.port !== server.port) {
        stats.ignoredWrongSource++;
        return undefined;
      }
      const received = receive(server, id, question, message);
      if (received?.kind === 'garbage') garbage = received.detail; // could be a spoofer: keep waiting
      return received?.kind === 'reply' ? received.packet : undefined;
    }, signal);
    if (!udp.ok) {
      if (udp.reason !== 'aborted') return { ok: false, reason: 'network', detail: `${label(server)}: ${udp.detail}` };
      stats.attemptTimeouts++;
      return garbage === undefined
        ? { ok: false, reason: 'timeout', detail: `${label(server)}: ${udp.detail}` }
        : { ok: false, reason: 'malformed-reply', detail: `${label(server)}: only undecodable replies: ${garbage}` };
    }
    if (!udp.value.flag_tc) return interpret(server, udp.value, 'udp');
    stats.tcpSent++;
    const tcp = await tcpExchange(server, payload, (message, _from: Endpoint) => receive(server, id, question, message), signal);
    if (!tcp.ok && tcp.reason === 'malformed') return { ok: false, reason: 'malformed-reply', detail: `${label(server)} over TCP: ${tcp.detail}` };
    if (!tcp.ok) return { ok: false, reason: 'truncated', detail: `${label(server)}: reply truncated over UDP and the TCP retry failed: ${tcp.detail}` };
    if (tcp.value.kind === 'garbage') return { ok: false, reason: 'malformed-reply', detail: `${label(server)} over TCP: ${tcp.value.detail}` };
    if (tcp.value.packet.flag_tc) return { ok: false, reason: 'malformed-reply', detail: `${label(server)}: TC set on a TCP reply` };
    return interpret(server, tcp.value.packet, 'tcp');
  }

  async function streamAttempt(exchange: StreamExchange, server: DnsServer, id: number, question: DnsQuestion, payload: Buffer, signal: AbortSignal): Promise<DnsQueryResult> {
    stats.tcpSent++;
    let garbage: string | undefined;
    const r = await exchange(server, payload, (message, _from: Endpoint) => {
      const received = receive(server, id, question, message);
      if (received?.kind === 'garbage') garbage = received.detail;
      return received?.kind === 'reply' ? received.packet : undefined;
    }, signal);
    if (!r.ok) {
      if (r.reason === 'malformed') return { ok: false, reason: 'malformed-reply', detail: `${label(server)} over TCP: ${r.detail}` };
      if (r.reason === 'network') return { ok: false, reason: 'network', detail: `${label(server)}: ${r.detail}` };
      stats.attemptTimeouts++;
      return garbage === undefined
        ? { ok: false, reason: 'timeout', detail: `${label(server)}: ${r.detail}` }
        : { ok: false, reason: 'malformed-reply', detail: `${label(server)}: only undecodable replies: ${garbage}` };
    }
    if (r.value.flag_tc) return { ok: false, reason: 'malformed-reply', detail: `${label(server)}: TC set on a TCP reply` };
    return interpret(server, r.value, 'tcp');
  }

  async function query(name: string, type: RecordType, queryOptions: { readonly signal?: AbortSignal } = {}): Promise<DnsQueryResult> {
    stats.queries++;
    const checked = checkQueryName(name);
    if (!checked.ok) return { ok: false, reason: 'invalid-name', detail: checked.detail };
    if (servers.length === 0) return { ok: false, reason: 'network', detail: 'no DNS servers configured' };
    const userSignal = queryOptions.signal;
    // One timer for the whole resolution; each attempt's own timer hangs off it, so an attempt
    // ends at the deadline at the latest and no further attempt starts after it.
    const deadline = timeoutSignal(deadlineMs, userSignal);
    const failures: DnsFailure[] = [];
    try {
      for (let round = 0; round < attempts; round++) {
        for (const server of servers) {
          if (isAborted(deadline.signal)) return userSignal !== undefined && isAborted(userSignal) ? aborted(userSignal) : worst(failures, deadlineMs);
          const timer = timeoutSignal(attemptTimeoutMs, deadline.signal);
          let result: DnsQueryResult;
          try {
            result = await attempt(server, checked.name, type, timer.signal);
          } catch (err) {
            result = { ok: false, reason: 'network', detail: `${label(server)}: ${errorMessage(err)}` };
          } finally {
            timer.dispose();
          }
          if (result.ok) return result;
          if (userSignal !== undefined && isAborted(userSignal)) return aborted(userSignal);
          failures.push(result);
        }
      }
      return worst(failures, deadlineMs);
    } finally {
      deadline.dispose();
    }
  }

  return { query, servers, stats };
}

function interpret(server: DnsServer, packet: DecodedPacket, transport: 'udp' | 'tcp'): DnsQueryResult {
  const rcode = rcodeOf(packet);
  const where = label(server);
  const edes = extendedErrorsOf(packet);
  const withEdes = edes.length === 0 ? {} : { extendedErrors: edes };
  if (rcode === Rcode.NOERROR || rcode === Rcode.NXDOMAIN) {
    return {
      ...withEdes,
      ok: true,
      rcode: rcode === Rcode.NOERROR ? 'NOERROR' : 'NXDOMAIN',
      authenticated: packet.flag_ad && server.trustAd,
      adBit: packet.flag_ad,
      answers: recordsOf(packet.answers),
      authorities: recordsOf(packet.authorities),
      server: where,
      transport,
    };
  }
  // Extended DNS Errors are as unauthenticated as the AD bit (RFC 8914, Security Considerations):
  // they count only from a server whose AD bit we trust; from others they are shown, marked so.
  const listed = edes.map(describeExtendedError).join('; ');
  const said = edes.length === 0 ? '' : server.trustAd ? `: ${listed}` : ` (not trusted, from a server that is neither loopback nor trust_ad: ${listed})`;
  if (rcode === Rcode.REFUSED) return { ok: false, reason: 'refused', detail: `${where} answered REFUSED${said}`, ...withEdes };
  // SERVFAIL from a validating resolver may mean DNSSEC-bogus data: a temporary failure, never "no record".
  // An EDE only names the cause (RFC 8914: it "does not change the processing of RCODEs"): `bogus` is
  // a failure like `servfail`, one an operator can tell apart.
  if (rcode === Rcode.SERVFAIL) {
    const isBogus = server.trustAd && edes.some((e) => isDnssecBogusCode(e.infoCode));
    return { ok: false, reason: isBogus ? 'bogus' : 'servfail', detail: `${where} answered SERVFAIL${said}`, ...withEdes };
  }
  return { ok: false, reason: 'servfail', detail: `${where} answered RCODE ${rcode}${said}`, ...withEdes };
}

/** The failure that says most: an answer from a server beats silence from another. */
const FAILURE_RANK: Record<DnsFailureReason, number> = {
  bogus: 7, servfail: 6, refused: 5, 'malformed-reply': 4, truncated: 3, network: 2, timeout: 1, aborted: 0, 'invalid-name': 8,
};

function worst(failures: readonly DnsFailure[], deadlineMs: number): DnsFailure {
  let pick: DnsFailure = { ok: false, reason: 'timeout', detail: `no reply within the ${deadlineMs} ms deadline` };
  for (const f of failures) if (FAILURE_RANK[f.reason] > FAILURE_RANK[pick.reason]) pick = f;
  return pick;
}

/** A function, so TypeScript does not keep a narrowing of `aborted` across an await. */
function isAborted(signal: AbortSignal): boolean {
  return signal.aborted;
}

function aborted(signal: AbortSignal): DnsFailure {
  return { ok: false, reason: 'aborted', detail: `lookup aborted: ${errorMessage(signal.reason)}` };
}

/** An AbortSignal that fires after ms or when parent does; dispose() clears the timer. */
function timeoutSignal(ms: number, parent: AbortSignal | undefined): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const timer = setTimeout(() => { controller.abort(new Error('attempt timed out')); }, ms);
  const onParent = (): void => { controller.abort(parent?.reason); };
  parent?.addEventListener('abort', onParent, { once: true });
  return {
    signal: controller.signal,
    dispose: () => {
      clearTimeout(timer);
      parent?.removeEventListener('abort', onParent);
    },
  };
}

function toServer(spec: DnsServerSpec): DnsServer {
  return { address: spec.address, port: spec.port ?? 53, trustAd: spec.trustAd ?? isLoopbackAddress(spec.address) };
}

function label(server: Endpoint): string {
  return server.address.includes(':') ? `[${server.address}]:${server.port}` : `${server.address}:${server.port}`;
}

function loadResolvConf(path: string, logger: Logger): { servers: readonly DnsServer[]; attemptTimeoutMs?: number; attempts?: number } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    logger.warn({ path, err: errorMessage(err) }, 'cannot read resolv.conf; using 127.0.0.1:53');
    return { servers: [toServer({ address: '127.0.0.1' })] };
  }
  const conf = parseResolvConf(text);
  for (const why of conf.ignored) logger.warn({ path }, `resolv.conf ${why}`);
  return conf.servers.length > 0 ? conf : { ...conf, servers: [toServer({ address: '127.0.0.1' })] };
}
