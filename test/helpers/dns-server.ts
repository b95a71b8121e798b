// An in-process DNS server for tests: UDP and TCP on 127.0.0.1 (same port), answers from a small
// zone table, and per-query fault injection (truncation, SERVFAIL/REFUSED, silence, spoofed IDs,
// a question not echoing 0x20, replies from another socket, garbage, AD bit, Extended DNS Errors).
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { encode, decode, AUTHENTIC_DATA, AUTHORITATIVE_ANSWER, TRUNCATED_RESPONSE, RECURSION_AVAILABLE, type Answer, type DecodedPacket, type PacketOpt, type RecordType } from 'dns-packet';
import { DnsTcpFramer, frameTcpMessage } from '../../src/resolve/dns/tcp-framer.ts';

export interface FixtureRecord {
  readonly name: string;
  readonly type: RecordType;
  readonly ttl: number;
  readonly data: unknown;
}

export interface FixtureZone {
  /** The apex, e.g. `example.org`. Names under it that have no records get NXDOMAIN. */
  readonly origin: string;
  /** SOA TTL and MINIMUM for negative answers (RFC 2308); omit to send negatives without SOA. */
  readonly soa?: { readonly ttl: number; readonly minimum: number };
  readonly records: readonly FixtureRecord[];
}

export interface ReceivedQuery {
  readonly transport: 'udp' | 'tcp';
  readonly id: number;
  /** As received, 0x20 case included. */
  readonly name: string;
  readonly type: RecordType;
  readonly packet: DecodedPacket;
  /** The EDNS UDP payload size the client advertised, or 512 without EDNS. */
  readonly udpPayloadSize: number;
}

/** What to send back; the default is `{ kind: 'zone' }`. A list sends several replies in order. */
export interface FixtureReply {
  readonly kind: 'zone' | 'servfail' | 'refused' | 'formerr' | 'drop' | 'garbage' | 'truncated';
  /** Set AD=1 on the reply. */
  readonly ad?: boolean;
  /** Added to the query ID (a spoofed or stale reply). */
  readonly idOffset?: number;
  /** How the question is written back: echoed (default), lower-cased (no 0x20 echo) or another name. */
  readonly question?: 'echo' | 'lower' | { readonly name: string };
  /** Send from a second socket (wrong source port). UDP only. */
  readonly fromOtherSocket?: boolean;
  /** Replace the zone's answer section (NOERROR), e.g. a CNAME chain as a recursive resolver returns it. */
  readonly answers?: readonly FixtureRecord[];
  /** Rewrites the rendered reply bytes (fuzzing hostile but well-addressed replies), over UDP and TCP. */
  readonly mutate?: (bytes: Buffer) => Buffer;
  /** Rewrites a TCP reply after framing (lying or oversized length prefixes, partial frames). */
  readonly tcpBytes?: (framed: Buffer) => Buffer;
  /** For kind 'garbage'. */
  readonly bytes?: Buffer;
  /** Extended DNS Errors (RFC 8914, option 15) to send in an OPT record, in this order. */
  readonly ede?: readonly { readonly infoCode: number; readonly text?: string }[];
  /** Raw EDNS options for that OPT record, after the `ede` ones (malformed EDEs, other option codes). */
  readonly ednsOptions?: readonly { readonly code: number; readonly data: Buffer }[];
  /** Send the reply this much later (a slow server); UDP and TCP. */
  readonly delayMs?: number;
}

export type Behaviour = (query: ReceivedQuery) => FixtureReply | readonly FixtureReply[];

export interface DnsTestServer {
  readonly address: '127.0.0.1';
  readonly port: number;
  readonly queries: ReceivedQuery[];
  readonly counts: { udp: number; tcp: number };
  setBehaviour(behaviour: Behaviour): void;
  close(): Promise<void>;
}

export interface DnsTestServerOptions {
  readonly zones?: readonly FixtureZone[];
  readonly behaviour?: Behaviour;
  /** Bind this port (UDP and TCP), e.g. to come back where clients expect it after a restart. */
  readonly port?: number;
}

export async function startDnsServer(options: DnsTestServerOptions = {}): Promise<DnsTestServer> {
  const zones = options.zones ?? [];
  let behaviour: Behaviour = options.behaviour ?? (() => ({ kind: 'zone' }));
  const queries: ReceivedQuery[] = [];
  const counts = { udp: 0, tcp: 0 };
  let udp = createSocket('udp4');
  const other = createSocket('udp4');
  const tcpSockets = new Set<Socket>();
  const tcp: Server = createServer((socket) => {
    tcpSockets.add(socket);
    socket.on('close', () => tcpSockets.delete(socket));
    socket.on('error', () => undefined);
    const framer = new DnsTcpFramer();
    socket.on('data', (chunk: Buffer) => {
      let messages: Buffer[];
      try {
        messages = framer.push(chunk);
      } catch {
        socket.destroy();
        return;
      }
      for (const m of messages) {
        const q = parseQuery(m, 'tcp');
        if (q === undefined) continue;
        counts.tcp++;
        queries.push(q);
        for (const reply of asList(behaviour(q))) {
          const rendered = render(q, reply, zones);
          const bytes = rendered === undefined || reply.mutate === undefined ? rendered : reply.mutate(rendered);
          if (bytes === undefined) continue;
          const framed = bytes.length > 0xffff ? bytes.subarray(0, 0xffff) : bytes;
          const wire = reply.tcpBytes === undefined ? frameTcpMessage(framed) : reply.tcpBytes(frameTcpMessage(framed));
          later(reply, () => socket.destroyed || socket.write(wire));
        }
      }
    });
  });
  const onMessage = (m: Buffer, rinfo: { port: number; address: string }): void => {
    const q = parseQuery(m, 'udp');
    if (q === undefined) return;
    counts.udp++;
    queries.push(q);
    for (const reply of asList(behaviour(q))) {
      const rendered = render(q, reply, zones);
      const bytes = rendered === undefined || reply.mutate === undefined ? rendered : reply.mutate(rendered);
      const from = reply.fromOtherSocket === true ? other : udp;
      if (bytes !== undefined) later(reply, () => { from.send(bytes, rinfo.port, rinfo.address, () => undefined); });
    }
  };
  const timers = new Set<NodeJS.Timeout>();
  const later = (reply: FixtureReply, send: () => void): void => {
    if (reply.delayMs === undefined) {
      send();
      return;
    }
    const timer = setTimeout(() => {
      timers.delete(timer);
      send();
    }, reply.delayMs);
    timers.add(timer);
  };
  udp.on('message', onMessage);
  other.bind(0, '127.0.0.1');
  await once(other, 'listening');
  // UDP and TCP share one port number: the one the kernel gives the UDP socket may be taken for TCP
  // (other suites run in parallel), so try again with a fresh UDP socket.
  let port = 0;
  for (let attempt = 1; ; attempt++) {
    udp.bind(options.port ?? 0, '127.0.0.1');
    await once(udp, 'listening');
    port = udp.address().port;
    try {
      tcp.listen(port, '127.0.0.1');
      await once(tcp, 'listening');
      break;
    } catch (err) {
      if (attempt >= 20 || options.port !== undefined || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      await closeUdp(udp);
      udp = createSocket('udp4');
      udp.on('message', onMessage);
    }
  }
  return {
    address: '127.0.0.1',
    port,
    queries,
    counts,
    setBehaviour: (b) => {
      behaviour = b;
    },
    close: async () => {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const s of tcpSockets) s.destroy();
      await Promise.all([closeUdp(udp), closeUdp(other), new Promise<void>((r) => tcp.close(() => { r(); }))]);
    },
  };
}

function closeUdp(socket: UdpSocket): Promise<void> {
  return new Promise((r) => socket.close(() => { r(); }));
}

function asList(r: FixtureReply | readonly FixtureReply[]): readonly FixtureReply[] {
  return isReplyList(r) ? r : [r];
}

function isReplyList(r: FixtureReply | readonly FixtureReply[]): r is readonly FixtureReply[] {
  return Array.isArray(r);
}

function parseQuery(message: Buffer, transport: 'udp' | 'tcp'): ReceivedQuery | undefined {
  let packet: DecodedPacket;
  try {
    packet = decode(message);
  } catch {
    return undefined;
  }
  const q = packet.questions?.[0];
  if (q === undefined) return undefined;
  const opt = packet.additionals?.find((rr) => rr.type === 'OPT');
  const udpPayloadSize = opt !== undefined && 'udpPayloadSize' in opt ? Math.max(512, opt.udpPayloadSize) : 512;
  return { transport, id: packet.id ?? 0, name: q.name, type: q.type, packet, udpPayloadSize };
}

const RCODE = { servfail: 2, refused: 5, formerr: 1 } as const;

function render(q: ReceivedQuery, reply: FixtureReply, zones: readonly FixtureZone[]): Buffer | undefined {
  if (reply.kind === 'drop') return undefined;
  if (reply.kind === 'garbage') return reply.bytes ?? Buffer.from('\x00\x01garbage that is no DNS message');
  const questionName = reply.question === undefined || reply.question === 'echo' ? q.name : reply.question === 'lower' ? q.name.toLowerCase() : reply.question.name;
  const id = ((q.id + (reply.idOffset ?? 0)) % 65536 + 65536) % 65536;
  let flags = RECURSION_AVAILABLE | (q.packet.flags ?? 0) & 0x0100 | (reply.ad === true ? AUTHENTIC_DATA : 0);
  const base = { type: 'response' as const, id, questions: [{ name: questionName, type: q.type, class: 'IN' as const }] };
  const additionals = optRecord(reply);
  if (reply.kind === 'servfail' || reply.kind === 'refused' || reply.kind === 'formerr') {
    return encode({ ...base, flags: flags | RCODE[reply.kind], additionals });
  }
  const answer = reply.answers === undefined
    ? lookup(q.name, q.type, zones)
    : { rcode: 0, isAuthoritative: false, answers: reply.answers as Answer[], authorities: [] };
  flags |= answer.rcode | (answer.isAuthoritative ? AUTHORITATIVE_ANSWER : 0);
  const full = encode({ ...base, flags, answers: answer.answers, authorities: answer.authorities, additionals });
  const isTooBig = q.transport === 'udp' && full.length > q.udpPayloadSize;
  if (reply.kind === 'truncated' ? q.transport === 'udp' : isTooBig) {
    return encode({ ...base, flags: flags | TRUNCATED_RESPONSE });
  }
  return full;
}

/** The reply's OPT record when it carries EDNS options, else none (the replies of this fixture have no EDNS otherwise). */
function optRecord(reply: FixtureReply): Answer[] {
  const options = [
    ...(reply.ede ?? []).map((e) => {
      const code = Buffer.alloc(2);
      code.writeUInt16BE(e.infoCode);
      return { code: 15, data: Buffer.concat([code, Buffer.from(e.text ?? '', 'utf8')]) };
    }),
    ...(reply.ednsOptions ?? []),
  ];
  if (options.length === 0) return [];
  // dns-packet's types list only the option codes it decodes itself; any code encodes from raw data.
  return [{ type: 'OPT', name: '.', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: options as unknown as PacketOpt[] }];
}

interface ZoneAnswer {
  readonly rcode: number;
  readonly isAuthoritative: boolean;
  readonly answers: Answer[];
  readonly authorities: Answer[];
}

function lookup(name: string, type: RecordType, zones: readonly FixtureZone[]): ZoneAnswer {
  const lname = name.toLowerCase().replace(/\.$/, '');
  const zone = zones.find((z) => lname === z.origin || lname.endsWith(`.${z.origin}`));
  if (zone === undefined) return { rcode: RCODE.refused, isAuthoritative: false, answers: [], authorities: [] };
  const soa: Answer[] = zone.soa === undefined ? [] : [{
    type: 'SOA', name: zone.origin, ttl: zone.soa.ttl,
    data: { mname: `ns.${zone.origin}`, rname: `hostmaster.${zone.origin}`, serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: zone.soa.minimum },
  }];
  const owned = zone.records.filter((r) => r.name.toLowerCase() === lname);
  const matching = owned.filter((r) => r.type === type || r.type === 'CNAME');
  if (matching.length > 0) {
    // Answers keep the query's case in the owner name, as real servers do.
    return { rcode: 0, isAuthoritative: true, answers: matching.map((r) => ({ ...r, name: r.name.toLowerCase() === lname ? name : r.name }) as Answer), authorities: [] };
  }
  const exists = owned.length > 0 || zone.records.some((r) => r.name.toLowerCase().endsWith(`.${lname}`)) || lname === zone.origin;
  return { rcode: exists ? 0 : 3, isAuthoritative: true, answers: [], authorities: soa };
}
