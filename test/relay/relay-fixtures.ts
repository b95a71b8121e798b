// Shared pieces for the relay's tests: onions, a resolver stand-in the test controls, and a relay
// session driven in process (no sockets) with its replies parsed as they come.
import { EventEmitter } from 'node:events';
import type { DecisionSource } from '../../src/lookup/answerer.ts';
import type { Decision, OnionTarget } from '../../src/resolve/types.ts';
import { SmtpReplyReader, type SmtpReply } from '../../src/tor/smtp-reply.ts';
import { RelaySession, type RelaySettings, type SessionTransport } from '../../src/relay/inbound/session.ts';
import type { DeliveryReport, RelayListenerKind } from '../../src/relay/inbound/delivery.ts';
import type { Upstreams } from '../../src/relay/upstream/api.ts';
import { createLogger, type Logger } from '../../src/log.ts';
import { Writable } from 'node:stream';
import { connect, type Socket } from 'node:net';

export const A = 'pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion';
export const B = 'sp3k262uwy4r2k3ycr5awluarykdpag6a7y33jxop4cs2lu5uz5sseqd.onion';
export const C = 'xa4r2iadxm55fbnqgwwi5mymqdcofiu3w6rpbtqn7b2dyn7mgwj64jyd.onion';

export function route(domain: string, hops: readonly OnionTarget[]): Decision {
  const [first] = hops;
  if (first === undefined) throw new Error('no hops');
  return { kind: 'route', domain, onion: first.onion, port: first.port, source: 'static', dnssec: false, ttl: 300, hops, origin: 'test' };
}

/** Answers from `known` at once; anything else waits until release() (as a DNS lookup would). */
export class FakeResolver implements DecisionSource {
  readonly known = new Map<string, Decision>();
  readonly lookups: string[] = [];
  readonly #held = new Map<string, ((d: Decision) => void)[]>();

  peekDomain(domain: string): Decision | undefined {
    return this.known.get(domain);
  }

  resolveDomain(domain: string): Promise<Decision> {
    this.lookups.push(domain);
    return new Promise((resolve) => this.#held.set(domain, [...(this.#held.get(domain) ?? []), resolve]));
  }

  release(domain: string, decision: Decision): void {
    this.known.set(domain, decision);
    for (const r of this.#held.get(domain) ?? []) r(decision);
    this.#held.delete(domain);
  }
}

/** one.example and also-one.example -> A, two.example -> B, three.example -> C; refusals of each kind. */
export function standardResolver(): FakeResolver {
  const r = new FakeResolver();
  r.known.set('one.example', route('one.example', [{ onion: A, port: 25 }]));
  r.known.set('also-one.example', route('also-one.example', [{ onion: A, port: 25 }]));
  r.known.set('two.example', route('two.example', [{ onion: B, port: 25 }]));
  r.known.set('three.example', route('three.example', [{ onion: C, port: 25 }]));
  r.known.set('clear.example', { kind: 'none', domain: 'clear.example', reason: 'nxdomain', ttl: 60 });
  r.known.set('broken.example', { kind: 'tempfail', domain: 'broken.example', reason: 'servfail', detail: 'all servers failed', ttl: 0 });
  r.known.set(`bad${'a'.repeat(53)}.onion`, { kind: 'reject', domain: `bad${'a'.repeat(53)}.onion`, reason: 'checksum mismatch' });
  return r;
}

/** Log lines as objects, for assertions on the relay's delivery line. */
export function captureLog(level: 'info' | 'debug' = 'info'): { readonly log: Logger; readonly lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { log: createLogger({ level, destination: sink }), lines };
}

class TestTransport implements SessionTransport {
  readonly replies: SmtpReply[] = [];
  readonly events = new EventEmitter();
  paused = false;
  pauses = 0;
  closed = false;
  readonly #reader = new SmtpReplyReader();

  write(text: string): void {
    if (this.closed) throw new Error(`write after close: ${text}`);
    const r = this.#reader.push(text);
    if (!r.ok) throw new Error(r.detail);
    this.replies.push(...r.replies);
    this.events.emit('change');
  }

  pause(): void {
    if (!this.paused) this.pauses++;
    this.paused = true;
    this.events.emit('change');
  }

  resume(): void {
    this.paused = false;
    this.events.emit('change');
  }

  close(): void {
    this.closed = true;
    this.events.emit('change');
  }

  until(check: () => boolean): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve) => {
      const on = (): void => {
        if (!check()) return;
        this.events.off('change', on);
        resolve();
      };
      this.events.on('change', on);
    });
  }
}

export interface SessionHarness {
  readonly session: RelaySession;
  readonly transport: TestTransport;
  readonly reports: DeliveryReport[];
  readonly lines: Record<string, unknown>[];
  /** The session's end; keeps the event loop alive meanwhile (the idle timer is unref'd, as a socket would hold the loop). */
  done(): Promise<void>;
  /** Sends text (or bytes) as one chunk. */
  send(data: string | Buffer): void;
  /** Resolves with replies [from, from + n) once they have arrived. */
  replies(n: number, from?: number): Promise<SmtpReply[]>;
  /** `250 2.0.0` style codes of replies [from, from + n). */
  codes(n: number, from?: number): Promise<string[]>;
}

export interface HarnessOptions {
  readonly kind?: RelayListenerKind;
  readonly upstreams: Upstreams;
  readonly resolver?: DecisionSource;
  readonly settings?: Partial<RelaySettings>;
  readonly idleTimeoutMs?: number;
}

export function startSession(o: HarnessOptions): SessionHarness {
  const transport = new TestTransport();
  const reports: DeliveryReport[] = [];
  const { log, lines } = captureLog('debug');
  const settings: RelaySettings = {
    resolver: o.resolver ?? standardResolver(),
    upstreams: o.upstreams,
    heloName: 'relay.test',
    maxMessageSize: 10_000_000,
    maxRecipients: 100,
    deleteHeaders: ['X-Onion-Route'],
    ...o.settings,
  };
  const session = new RelaySession({
    kind: o.kind ?? 'lmtp',
    settings: () => settings,
    transport,
    log,
    idleTimeoutMs: o.idleTimeoutMs ?? 300_000,
    onDelivery: (r) => reports.push(r),
  });
  session.start();
  const replies = async (n: number, from = 1): Promise<SmtpReply[]> => {
    await transport.until(() => transport.replies.length >= from + n || transport.closed);
    if (transport.replies.length < from + n) throw new Error(`closed after ${transport.replies.length} replies: ${transport.replies.map((r) => `${r.code} ${r.lines.join('/')}`).join(' | ')}`);
    return transport.replies.slice(from, from + n);
  };
  return {
    session,
    transport,
    reports,
    lines,
    done: async () => {
      const keepAlive = setInterval(() => undefined, 1000);
      try {
        await session.done;
      } finally {
        clearInterval(keepAlive);
      }
    },
    send: (data) => {
      session.receive(typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    },
    replies,
    codes: async (n, from) => (await replies(n, from)).map(codeOf),
  };
}

/** `250 2.1.0`: the code and the enhanced code of a reply's first line. */
export function codeOf(r: SmtpReply): string {
  const m = /^\d\.\d{1,3}\.\d{1,3}/.exec(r.lines[0] ?? '');
  return m === null ? String(r.code) : `${r.code} ${m[0]}`;
}

export function crlf(...lines: string[]): string {
  return lines.map((l) => `${l}\r\n`).join('');
}

/** A client for the relay's listeners that pipelines freely: send what you like, read replies as they come. */
export interface RawClient {
  readonly replies: SmtpReply[];
  send(data: string | Buffer): void;
  /** Codes of replies [from, from + n), once they have arrived (the greeting is reply 0). */
  codes(n: number, from?: number): Promise<string[]>;
  readonly closed: Promise<void>;
  destroy(): void;
}

export function rawClient(target: { readonly path: string } | { readonly port: number }): Promise<RawClient> {
  const socket: Socket = 'path' in target ? connect(target.path) : connect(target.port, '127.0.0.1');
  const reader = new SmtpReplyReader();
  const replies: SmtpReply[] = [];
  const waiters: (() => void)[] = [];
  let isClosed = false;
  const wake = (): void => {
    for (const w of waiters.splice(0)) w();
  };
  socket.on('data', (chunk: Buffer) => {
    const r = reader.push(chunk);
    if (r.ok) replies.push(...r.replies);
    wake();
  });
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) =>
    socket.on('close', () => {
      isClosed = true;
      wake();
      resolve();
    }),
  );
  const until = async (check: () => boolean): Promise<void> => {
    while (!check() && !isClosed) await new Promise<void>((resolve) => waiters.push(resolve));
  };
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.once('connect', () => {
      resolve({
        replies,
        send: (data) => socket.write(data),
        codes: async (n, from = 1) => {
          await until(() => replies.length >= from + n);
          return replies.slice(from, from + n).map(codeOf);
        },
        closed,
        destroy: () => socket.destroy(),
      });
    });
  });
}

