// One SMTP client session to one onion, as an explicit state machine over the stream
// connectViaTor opened:
//
//   open:   connect -> greeting -> EHLO (HELO when EHLO is refused) -> [STARTTLS -> TLS -> EHLO] -> ready
//   ready --MAIL--> envelope --RCPT...--> envelope --DATA 354--> data --write...--> data --end--> dot --reply--> ready
//   envelope --RSET--> ready;  any --QUIT--> closed;  any failure or 421 -> closed (spoiled, never pooled)
//
// Commands go out in order; MAIL and RCPT may overlap their predecessors when the server offered
// PIPELINING (RFC 2920 §3.1), every other command waits until all earlier replies are read, so
// nothing is ever sent behind the final dot while its reply is outstanding and QUIT goes out only
// after the last reply. Every wait has its RFC 5321 §4.5.3.2 bound. Nothing throws or rejects:
// every failure is a reply (see replies.ts).
import { performance } from 'node:perf_hooks';
import type { OnionTarget } from '../../resolve/types.ts';
import type { MailCommand, RcptCommand, SmtpReply } from '../envelope.ts';
import { connectViaTor, type TorConnectFailureKind } from '../../tor/socks-connect.ts';
import type { UpstreamCapabilities } from './api.ts';
import { heloCapabilities, parseEhloReply } from './capabilities.ts';
import { mailCommandLine, rcptCommandLine } from './commands.ts';
import type { ResolvedUpstreamOptions, StarttlsMode, UpstreamTimeouts } from './options.ts';
import {
  abortedReply,
  closingReply,
  greetingRefusedReply,
  heloRefusedReply,
  lostReply,
  protocolReply,
  sequenceReply,
  starttlsUnavailableReply,
  timeoutReply,
  tlsFailedReply,
  type Awaited,
} from './replies.ts';
import { torFailureReply } from './tor-replies.ts';
import { SmtpWire, type WireFailure } from './wire.ts';

export type SessionPhase = 'ready' | 'envelope' | 'data' | 'dot' | 'closed';

export type OpenStage = 'connect' | 'greeting' | 'ehlo' | 'starttls' | 'tls';

export type OpenResult =
  | { readonly ok: true; readonly session: UpstreamSession; readonly ms: number }
  | {
      readonly ok: false;
      readonly stage: OpenStage;
      readonly reply: SmtpReply;
      /** Tor's code when the connect failed. */
      readonly torCode: string | undefined;
      /** The same would happen for every hop (Tor not reachable, not Tor, aborted): do not try the next. */
      readonly everyHop: boolean;
      readonly ms: number;
    };

/** Failures of the SocksPort itself, not of the destination. */
const PROXY_FAILURES: ReadonlySet<TorConnectFailureKind> = new Set(['proxy-unreachable', 'proxy-auth', 'proxy-protocol', 'aborted']);

export interface OpenParams {
  readonly target: OnionTarget;
  readonly options: ResolvedUpstreamOptions;
  /** May differ from options.starttls: `off` for the retry after a failed opportunistic handshake. */
  readonly starttls: StarttlsMode;
  readonly signal: AbortSignal | undefined;
}

export function wireFailureReply(target: OnionTarget, awaited: Awaited, failure: WireFailure): SmtpReply {
  switch (failure.kind) {
    case 'timeout':
      return timeoutReply(target, awaited, failure.ms);
    case 'closed':
      return lostReply(target, awaited, failure.detail);
    case 'protocol':
      return protocolReply(target, awaited, failure.detail);
  }
}

/** Connects through Tor and brings the session to `ready`, or answers why not. */
export async function openSession(params: OpenParams): Promise<OpenResult> {
  const { target, options, signal } = params;
  const started = performance.now();
  const elapsed = (): number => performance.now() - started;
  const connected = await connectViaTor({
    proxy: options.proxy,
    host: target.onion,
    port: target.port,
    timeoutMs: options.torConnectTimeoutMs,
    ...(signal === undefined ? {} : { signal }),
  });
  if (!connected.ok) {
    return { ok: false, stage: 'connect', reply: torFailureReply(connected, target, options.proxy), torCode: connected.code, everyHop: PROXY_FAILURES.has(connected.kind), ms: elapsed() };
  }
  // Attached in this tick: the banner may have come with Tor's reply and is re-emitted shortly.
  const wire = new SmtpWire(connected.socket);
  const onAbort = (): void => {
    wire.destroy('aborted');
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const outcome = await handshake(wire, params);
    if (outcome.ok) return { ok: true, session: new UpstreamSession(wire, target, outcome.capabilities, options.timeouts), ms: elapsed() };
    wire.destroy(outcome.stage);
    if (signal?.aborted === true) return { ok: false, stage: outcome.stage, reply: abortedReply(target, 'the session was no longer wanted'), torCode: undefined, everyHop: true, ms: elapsed() };
    return { ok: false, stage: outcome.stage, reply: outcome.reply, torCode: undefined, everyHop: false, ms: elapsed() };
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

type Handshake = { readonly ok: true; readonly capabilities: UpstreamCapabilities } | { readonly ok: false; readonly stage: OpenStage; readonly reply: SmtpReply };

async function handshake(wire: SmtpWire, params: OpenParams): Promise<Handshake> {
  const { target, options } = params;
  const t = options.timeouts;
  const greeting = await wire.expect(t.greetingMs);
  if (!greeting.ok) return { ok: false, stage: 'greeting', reply: wireFailureReply(target, 'greeting', greeting.failure) };
  if (greeting.reply.code !== 220) {
    // RFC 5321 §3.1: after a 554 greeting the client should QUIT; after 421 the server is gone.
    if (greeting.reply.code !== 421) await politeQuit(wire, t.quitMs);
    return { ok: false, stage: 'greeting', reply: greetingRefusedReply(target, greeting.reply) };
  }
  const first = await hello(wire, params);
  if (!first.ok) return first;
  if (params.starttls === 'off') return first;
  if (!first.capabilities.starttls) {
    if (params.starttls === 'opportunistic') return first;
    await politeQuit(wire, t.quitMs);
    return { ok: false, stage: 'starttls', reply: starttlsUnavailableReply(target, undefined) };
  }
  wire.send('STARTTLS');
  const answer = await wire.expect(t.starttlsMs);
  if (!answer.ok) return { ok: false, stage: 'starttls', reply: wireFailureReply(target, 'STARTTLS', answer.failure) };
  if (answer.reply.code === 421) return { ok: false, stage: 'starttls', reply: closingReply(target, answer.reply) };
  if (answer.reply.code !== 220) {
    // Refused: the session goes on as it was, in plaintext, unless TLS is required.
    if (params.starttls === 'opportunistic') return first;
    await politeQuit(wire, t.quitMs);
    return { ok: false, stage: 'starttls', reply: starttlsUnavailableReply(target, answer.reply) };
  }
  const failure = await wire.startTls(target.onion, t.starttlsMs);
  if (failure !== undefined) return { ok: false, stage: 'tls', reply: tlsFailedReply(target, failure.detail) };
  // RFC 3207 §4.2: what the server said before TLS is forgotten; ask again.
  return hello(wire, params);
}

/** EHLO, or HELO when the server refuses EHLO with a 5xx (RFC 5321 §4.1.4) before TLS. */
async function hello(wire: SmtpWire, params: OpenParams): Promise<Handshake> {
  const { target, options } = params;
  const t = options.timeouts;
  wire.send(`EHLO ${options.heloName}`);
  const ehlo = await wire.expect(t.ehloMs);
  if (!ehlo.ok) return { ok: false, stage: 'ehlo', reply: wireFailureReply(target, 'EHLO', ehlo.failure) };
  if (ehlo.reply.code === 250) return { ok: true, capabilities: parseEhloReply(ehlo.reply, wire.tls) };
  if (ehlo.reply.code === 421) return { ok: false, stage: 'ehlo', reply: closingReply(target, ehlo.reply) };
  if (Math.floor(ehlo.reply.code / 100) !== 5 || wire.tls) {
    await politeQuit(wire, t.quitMs);
    return { ok: false, stage: 'ehlo', reply: heloRefusedReply(target, 'EHLO', ehlo.reply) };
  }
  wire.send(`HELO ${options.heloName}`);
  const helo = await wire.expect(t.ehloMs);
  if (!helo.ok) return { ok: false, stage: 'ehlo', reply: wireFailureReply(target, 'HELO', helo.failure) };
  if (helo.reply.code === 250) return { ok: true, capabilities: heloCapabilities(false) };
  if (helo.reply.code !== 421) await politeQuit(wire, t.quitMs);
  return { ok: false, stage: 'ehlo', reply: heloRefusedReply(target, 'HELO', helo.reply) };
}

/** QUIT, a bounded wait for its reply (whatever it is), then the socket is destroyed by the caller. */
async function politeQuit(wire: SmtpWire, quitMs: number): Promise<void> {
  if (wire.failure !== undefined || wire.pending > 0) return;
  wire.send('QUIT');
  await wire.expect(quitMs);
}

/** What one command came to: the reply to relay, and whether the server gave it. */
interface Exchanged {
  readonly reply: SmtpReply;
  /** False for replies the session made up (lost connection, timeout, bad bytes). */
  readonly fromServer: boolean;
}

export class UpstreamSession {
  readonly target: OnionTarget;
  readonly capabilities: UpstreamCapabilities;
  readonly #wire: SmtpWire;
  readonly #timeouts: UpstreamTimeouts;
  #phase: SessionPhase = 'ready';
  /** A timeout, a lost connection, bytes that are not SMTP or a 421: never pooled again. */
  #spoiled = false;
  #rcptsSent = 0;
  /** Message octets written since the 354, and the last two (for the CRLF before the dot). */
  #written = 0;
  #tail: [number, number] = [0, 0];
  /** Why the session failed (a timeout, the connection lost, a 421): the answer to every later command. */
  #failure: SmtpReply | undefined;
  /** Settles when every reply so far is in. */
  #replied: Promise<unknown> = Promise.resolve();
  /** Settles when the replies up to the last command that may not be overlapped are in. */
  #barrier: Promise<unknown> = Promise.resolve();
  /** Settles when the last command queued has been written. */
  #sent: Promise<unknown> = Promise.resolve();

  constructor(wire: SmtpWire, target: OnionTarget, capabilities: UpstreamCapabilities, timeouts: UpstreamTimeouts) {
    this.#wire = wire;
    this.target = target;
    this.capabilities = capabilities;
    this.#timeouts = timeouts;
  }

  get phase(): SessionPhase {
    return this.#phase;
  }

  /** Healthy and between transactions: may go back to the pool. */
  get reusable(): boolean {
    return this.#phase === 'ready' && !this.#spoiled && this.#wire.failure === undefined && this.#wire.pending === 0;
  }

  /** A transaction was begun (MAIL sent) and not completed: RSET before it is reused. */
  get needsReset(): boolean {
    return this.#phase === 'envelope' && !this.#spoiled;
  }

  /** Resolves when every command sent so far has its reply (or the session failed). */
  get settled(): Promise<void> {
    return this.#replied.then(() => undefined);
  }

  /** Called when an idle session's server speaks or the connection fails (a 421 before closing, say). */
  set onIdleTrouble(handler: (() => void) | undefined) {
    this.#wire.onIdleTrouble = handler;
  }

  async mail(command: MailCommand): Promise<SmtpReply> {
    if (this.#phase !== 'ready' || this.#spoiled) return this.#refuse('MAIL');
    const line = mailCommandLine(command, this.capabilities, this.target);
    if (!line.ok) return line.reply;
    this.#phase = 'envelope';
    this.#rcptsSent = 0;
    const { reply, fromServer } = await this.#exchange('MAIL', line.line, this.#timeouts.mailMs, true);
    // Refused, and nothing pipelined behind it: no transaction was begun (RFC 5321 §4.1.1.2).
    if (fromServer && !isPositive(reply) && this.#still('envelope') && this.#rcptsSent === 0) this.#phase = 'ready';
    return reply;
  }

  async rcpt(command: RcptCommand): Promise<SmtpReply> {
    if (this.#phase !== 'envelope' || this.#spoiled) return this.#refuse('RCPT');
    const line = rcptCommandLine(command, this.capabilities);
    if (!line.ok) return line.reply;
    this.#rcptsSent += 1;
    return (await this.#exchange('RCPT', line.line, this.#timeouts.rcptMs, true)).reply;
  }

  async data(): Promise<SmtpReply> {
    if (this.#phase !== 'envelope' || this.#spoiled) return this.#refuse('DATA');
    const { reply, fromServer } = await this.#exchange('DATA', 'DATA', this.#timeouts.dataInitMs, false);
    if (fromServer && reply.code === 354 && this.#still('envelope')) {
      this.#phase = 'data';
      this.#written = 0;
    }
    return reply;
  }

  write(chunk: Uint8Array): boolean {
    if (this.#phase !== 'data' || chunk.length === 0) return true;
    this.#written += chunk.length;
    this.#tail = chunk.length >= 2 ? [chunk[chunk.length - 2] ?? 0, chunk[chunk.length - 1] ?? 0] : [this.#tail[1], chunk[0] ?? 0];
    return this.#wire.write(chunk);
  }

  async drained(): Promise<void> {
    if (this.#phase !== 'data') return;
    const failure = await this.#wire.drained(this.#timeouts.dataBlockMs);
    if (failure !== undefined) this.#spoil('data', failure);
  }

  async end(): Promise<SmtpReply> {
    if (this.#phase !== 'data') return this.#refuse('the final dot');
    const failure = this.#wire.failure;
    if (failure !== undefined) return this.#spoil('data', failure);
    // The message must end in CRLF before the terminating line (RFC 5321 §4.1.1.4).
    const endsInCrlf = this.#written === 0 || (this.#tail[0] === 0x0d && this.#tail[1] === 0x0a);
    this.#phase = 'dot';
    const { reply } = await this.#exchange('end of data', endsInCrlf ? '.' : '\r\n.', this.#timeouts.dataDoneMs, false);
    if (this.#still('dot')) this.#phase = 'ready';
    return reply;
  }

  /** Back to `ready` (true), or the session is spoiled and closed (false). */
  async rset(): Promise<boolean> {
    if ((this.#phase !== 'ready' && this.#phase !== 'envelope') || this.#spoiled || this.#wire.failure !== undefined) return false;
    const { reply, fromServer } = await this.#exchange('RSET', 'RSET', this.#timeouts.rsetMs, false);
    if (fromServer && reply.code === 250 && this.#still('ready', 'envelope')) {
      this.#phase = 'ready';
      return true;
    }
    this.destroy('RSET failed');
    return false;
  }

  /**
   * QUIT after every reply is in, a bounded wait for the 221, then the socket is destroyed (never
   * half-closed). Inside DATA there is no QUIT to send: the socket is closed without the dot.
   */
  async quit(): Promise<void> {
    if (this.#phase === 'closed') return;
    if (this.#phase === 'data' || this.#spoiled || this.#wire.failure !== undefined) {
      this.destroy(this.#phase === 'data' ? 'closed inside DATA, without the final dot' : 'closed after a failure');
      return;
    }
    await this.#exchange('QUIT', 'QUIT', this.#timeouts.quitMs, false);
    this.destroy('QUIT');
  }

  /** At once: no dot, no QUIT; a transaction in progress is discarded by the server. */
  destroy(reason: string): void {
    this.#phase = 'closed';
    this.#spoiled = true;
    this.#wire.destroy(reason);
  }

  /**
   * Sends one command in its turn and waits for its reply. A command that may overlap (MAIL, RCPT
   * to a PIPELINING server) goes out once the commands before it are written and no reply to a
   * command that may not be overlapped is outstanding; any other command waits for every reply.
   */
  #exchange(awaited: Awaited, line: string, timeoutMs: number, mayOverlap: boolean): Promise<Exchanged> {
    const overlap = mayOverlap && this.capabilities.pipelining;
    const gate = overlap ? Promise.all([this.#sent, this.#barrier]) : this.#replied;
    let markSent!: () => void;
    const sent = new Promise<void>((resolve) => (markSent = resolve));
    const result = gate.then(async (): Promise<Exchanged> => {
      const failure = this.#wire.failure;
      if (failure !== undefined) {
        markSent();
        return { reply: this.#spoil(awaited, failure), fromServer: false };
      }
      this.#wire.send(line);
      const answer = this.#wire.expect(timeoutMs);
      markSent();
      const r = await answer;
      if (!r.ok) return { reply: this.#spoil(awaited, r.failure), fromServer: false };
      if (r.reply.code === 421 && awaited !== 'QUIT') {
        this.destroy('the server answered 421');
        this.#failure ??= closingReply(this.target, r.reply);
        return { reply: closingReply(this.target, r.reply), fromServer: true };
      }
      return { reply: r.reply, fromServer: true };
    });
    this.#sent = sent;
    this.#replied = result;
    if (!overlap) this.#barrier = result;
    return result;
  }

  /** The phase after an await (a failure meanwhile closes the session). */
  #still(...phases: readonly SessionPhase[]): boolean {
    return !this.#spoiled && phases.includes(this.#phase);
  }

  /** The first failure is kept and answered from then on; a later one only repeats it in other words. */
  #spoil(awaited: Awaited, failure: WireFailure): SmtpReply {
    this.destroy(failure.detail);
    this.#failure ??= wireFailureReply(this.target, awaited, failure);
    return this.#failure;
  }

  #refuse(command: string): SmtpReply {
    return this.#failure ?? sequenceReply(this.target, command, this.#phase);
  }
}

function isPositive(reply: SmtpReply): boolean {
  return Math.floor(reply.code / 100) === 2;
}
