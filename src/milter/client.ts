// The MTA side of the milter protocol over one socket: used by tests, tools and the benchmark.
// Commands are pipelined (one write each, macros corked together with the next command); replies
// are matched to commands in FIFO order. It honours the negotiated flags like Postfix does: events
// the filter disabled are not sent, and events negotiated as no-reply are not waited for.
import { connect as netConnect, type Socket } from 'node:net';
import { ErrorCode, OnionMxError, ProtocolError } from '../errors.ts';
import { parseListenSpec } from '../net/listen-spec.ts';
import { ALL_ACTIONS, ALL_PROTOCOL, MAX_PROTOCOL_VERSION, Proto } from './wire/constants.ts';
import { FrameDecoder } from './wire/frame-decoder.ts';
import * as mta from './wire/mta-commands.ts';
import { decodeFilterReply, isVerdict, type FilterReply, type Modification, type OptnegResult, type VerdictReply } from './wire/mta-replies.ts';

export type { Modification, OptnegResult, VerdictReply } from './wire/mta-replies.ts';
export type ConnectFamily = mta.ConnectFamily;

/** What an event call resolves to: the filter's verdict, or why none was awaited. */
export type EventResult = VerdictReply | { readonly kind: 'noReply' } | { readonly kind: 'notSent' };

export interface EndOfMessageResult {
  /** Modification actions in the order received. */
  readonly modifications: readonly Modification[];
  readonly reply: VerdictReply;
  /** SMFIR_PROGRESS packets received while waiting. */
  readonly progress: number;
}

export interface NegotiateOptions {
  readonly version?: number;
  readonly actions?: number;
  readonly protocol?: number;
}

export interface ClientOptions {
  readonly maxFrameBytes?: number;
}

interface Waiter {
  readonly resolve: (r: FilterReply) => void;
  readonly reject: (e: Error) => void;
  /** Present for end of message: modifications and progress are collected here. */
  readonly eom: EomCollector | undefined;
}

interface EomCollector {
  readonly modifications: Modification[];
  progress: number;
}

type Event = 'connect' | 'helo' | 'mail' | 'rcpt' | 'data' | 'header' | 'eoh' | 'body' | 'unknown';
const EVENT_BITS: Readonly<Record<Event, readonly [no: number, noReply: number, minVersion: number]>> = {
  connect: [Proto.noConnect, Proto.noReplyConnect, 2],
  helo: [Proto.noHelo, Proto.noReplyHelo, 2],
  mail: [Proto.noMail, Proto.noReplyMail, 2],
  rcpt: [Proto.noRcpt, Proto.noReplyRcpt, 2],
  data: [Proto.noData, Proto.noReplyData, 4],
  header: [Proto.noHeaders, Proto.noReplyHeader, 2],
  eoh: [Proto.noEndOfHeaders, Proto.noReplyEndOfHeaders, 2],
  body: [Proto.noBody, Proto.noReplyBody, 2],
  unknown: [Proto.noUnknown, Proto.noReplyUnknown, 3],
};

const NO_REPLY: EventResult = { kind: 'noReply' };
const NOT_SENT: EventResult = { kind: 'notSent' };

export class MilterClient {
  readonly #socket: Socket;
  readonly #frames: FrameDecoder;
  readonly #waiters: (Waiter | undefined)[] = [];
  #head = 0;
  #corked = false;
  #error: Error | undefined;
  #negotiated: OptnegResult | undefined;
  readonly #closed: Promise<void>;

  private constructor(socket: Socket, options: ClientOptions) {
    this.#socket = socket;
    this.#frames = new FrameDecoder(options.maxFrameBytes);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.#onData(chunk);
    });
    socket.on('error', (err) => {
      this.#fail(err);
    });
    this.#closed = new Promise((resolve) => {
      socket.once('close', () => {
        this.#fail(new OnionMxError(ErrorCode.MilterClosed, 'filter closed the connection'));
        resolve();
      });
    });
  }

  /** Connects to a filter at `inet:host:port`, `inet:port@host`, `unix:/path`, ... */
  static async connect(spec: string, options: ClientOptions = {}): Promise<MilterClient> {
    const parsed = parseListenSpec(spec);
    if (!parsed.ok) throw new OnionMxError(ErrorCode.ListenSpec, parsed.reason);
    const t = parsed.target;
    const socket = t.kind === 'unix' ? netConnect(t.path) : netConnect({ host: t.host, port: t.port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new MilterClient(socket, options);
  }

  get negotiated(): OptnegResult | undefined {
    return this.#negotiated;
  }

  /** Resolves when the filter side has closed the socket. */
  get closed(): Promise<void> {
    return this.#closed;
  }

  /** SMFIC_OPTNEG; defaults offer everything a v6 MTA offers (version 6, 0x1FF, 0x1FFFFF). */
  async negotiate(o: NegotiateOptions = {}): Promise<OptnegResult> {
    const reply = await this.#request(
      mta.encodeOptneg(o.version ?? MAX_PROTOCOL_VERSION, o.actions ?? ALL_ACTIONS, o.protocol ?? ALL_PROTOCOL),
      undefined,
    );
    if (reply.kind !== 'optneg') throw new ProtocolError(ErrorCode.MilterNegotiation, `expected OPTNEG reply, got ${reply.kind}`);
    this.#negotiated = reply;
    return reply;
  }

  /** SMFIC_MACRO (no reply). Written together with the next command, as Postfix does. */
  macro(stage: string, pairs: Readonly<Record<string, string>> | Iterable<readonly [string, string]>): void {
    const list = Symbol.iterator in pairs ? pairs : Object.entries(pairs);
    this.#cork();
    this.#socket.write(mta.encodeMacro(stage, list));
  }

  connect(hostname: string, family: ConnectFamily, port = 0, address = ''): Promise<EventResult> {
    return this.#event('connect', () => mta.encodeConnect(hostname, family, port, address));
  }
  helo(name: string): Promise<EventResult> {
    return this.#event('helo', () => mta.encodeHelo(name));
  }
  mailFrom(address: string, args: readonly string[] = []): Promise<EventResult> {
    return this.#event('mail', () => mta.encodeMail(address, args));
  }
  rcptTo(address: string, args: readonly string[] = []): Promise<EventResult> {
    return this.#event('rcpt', () => mta.encodeRcpt(address, args));
  }
  data(): Promise<EventResult> {
    return this.#event('data', () => mta.DATA);
  }
  header(name: string, value: string): Promise<EventResult> {
    return this.#event('header', () => mta.encodeHeader(name, value));
  }
  endOfHeaders(): Promise<EventResult> {
    return this.#event('eoh', () => mta.END_OF_HEADERS);
  }
  body(chunk: Uint8Array): Promise<EventResult> {
    return this.#event('body', () => mta.encodeBody(chunk));
  }
  unknown(line: string): Promise<EventResult> {
    return this.#event('unknown', () => mta.encodeUnknown(line));
  }

  /** SMFIC_BODYEOB: collects modifications and progress until the final verdict. */
  async endOfMessage(chunk?: Uint8Array): Promise<EndOfMessageResult> {
    const eom: EomCollector = { modifications: [], progress: 0 };
    const reply = await this.#request(mta.encodeEndOfMessage(chunk), eom);
    if (!isVerdict(reply)) throw new ProtocolError(ErrorCode.MilterBadReply, `unexpected ${reply.kind} at end of message`);
    return { modifications: eom.modifications, reply, progress: eom.progress };
  }

  abort(): void {
    this.#write(mta.ABORT);
  }

  /** SMFIC_QUIT, then waits for the filter to close the connection. */
  async quit(): Promise<void> {
    this.#write(mta.QUIT);
    this.#socket.end();
    await this.#closed;
  }

  /** SMFIC_QUIT_NC: the next command on this connection is a new CONNECT. */
  quitNewConnection(): void {
    this.#write(mta.QUIT_NEW_CONNECTION);
  }

  /** Writes raw bytes (tests of hostile input). */
  writeRaw(bytes: Uint8Array): void {
    this.#write(bytes);
  }

  destroy(): void {
    this.#socket.destroy();
  }

  #event(event: Event, encode: () => Buffer): Promise<EventResult> {
    const [no, noReply, minVersion] = EVENT_BITS[event];
    const n = this.#negotiated;
    if (n !== undefined && (n.protocol & no || n.version < minVersion)) {
      this.#uncork();
      return Promise.resolve(NOT_SENT);
    }
    if (n !== undefined && n.protocol & noReply) {
      this.#write(encode());
      return Promise.resolve(NO_REPLY);
    }
    return this.#request(encode(), undefined).then((r) => {
      if (!isVerdict(r)) throw new ProtocolError(ErrorCode.MilterBadReply, `unexpected ${r.kind} after ${event}`);
      return r;
    });
  }

  #request(packet: Buffer, eom: EomCollector | undefined): Promise<FilterReply> {
    if (this.#error !== undefined) return Promise.reject(this.#error);
    const p = new Promise<FilterReply>((resolve, reject) => {
      this.#waiters.push({ resolve, reject, eom });
    });
    this.#write(packet);
    return p;
  }

  #write(packet: Uint8Array): void {
    this.#socket.write(packet);
    this.#uncork();
  }

  #cork(): void {
    if (!this.#corked) {
      this.#socket.cork();
      this.#corked = true;
    }
  }

  #uncork(): void {
    if (this.#corked) {
      this.#corked = false;
      this.#socket.uncork();
    }
  }

  #onData(chunk: Buffer): void {
    try {
      for (const f of this.#frames.push(chunk)) this.#onReply(decodeFilterReply(f.code, f.payload));
    } catch (err) {
      this.#fail(err instanceof Error ? err : new Error(String(err)));
      this.#socket.destroy();
    }
  }

  #onReply(reply: FilterReply): void {
    const w = this.#waiters[this.#head];
    if (w === undefined) {
      throw new ProtocolError(ErrorCode.MilterSequence, `unexpected filter reply ${reply.kind} with no command waiting`);
    }
    if (reply.kind === 'progress') {
      // Postfix accepts progress while waiting for any reply; it only restarts the timer.
      if (w.eom !== undefined) w.eom.progress++;
      return;
    }
    if (!isVerdict(reply) && reply.kind !== 'optneg') {
      if (w.eom === undefined) {
        throw new ProtocolError(ErrorCode.MilterSequence, `modification ${reply.kind} outside end of message`);
      }
      w.eom.modifications.push(reply);
      return;
    }
    this.#waiters[this.#head] = undefined;
    this.#head++;
    if (this.#head > 64 && this.#head * 2 > this.#waiters.length) {
      this.#waiters.splice(0, this.#head);
      this.#head = 0;
    }
    w.resolve(reply);
  }

  #fail(err: Error): void {
    this.#error ??= err;
    const pending = this.#waiters.slice(this.#head);
    this.#waiters.length = 0;
    this.#head = 0;
    for (const w of pending) w?.reject(this.#error);
  }
}
