// One MTA connection as an explicit state machine: fed decoded commands, it answers through `send`.
// No sockets. MTA quirks are handled here, once, so hooks see a clean lifecycle:
// duplicate ABORTs are dropped, a missing ABORT is synthesised, transient macro stages never
// clobber real ones, and "no reply" flags are honoured in exactly one place (#answer).
import { ErrorCode, OnionMxError, ProtocolError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { envelopeAddress } from './address.ts';
import { EomContext, HookContext, type ContextSource } from './context.ts';
import { callHook, type HookFailurePolicy, type MilterErrorKind } from './hook-call.ts';
import { MacroStore } from './macros.ts';
import { Modifications } from './modifications.ts';
import { EVENT_BITS, negotiate, type Negotiated } from './negotiate.ts';
import type { Event, FilterHandler, FilterSpec, HookResult, SessionContext, Verdict } from './types.ts';
import type { Command } from './wire/commands.ts';
import { Proto } from './wire/constants.ts';
import { encodeOptnegReply, encodeVerdict, PROGRESS_PACKET } from './wire/replies.ts';

export interface SessionOptions {
  readonly filter: FilterSpec;
  /** Short id, logged on every line of this connection (as `conn`). */
  readonly id: string;
  /** The server's logger; the session adds `conn` and, inside a transaction, `qid`. */
  readonly log: Logger;
  /** Receives every packet to write, in order. EOM modifications + verdict arrive as ONE buffer. */
  readonly send: (packet: Buffer) => void;
  /** Deadline for every hook except endOfMessage (default 20 s, below Postfix's 30 s command timeout). */
  readonly hookTimeoutMs?: number;
  /** Deadline for endOfMessage (default 240 s, below Postfix's 300 s content timeout). */
  readonly eomTimeoutMs?: number;
  /** SMFIR_PROGRESS interval while endOfMessage runs (default 1000 ms). */
  readonly progressIntervalMs?: number;
  /** Verdict when a hook throws or times out (default tempfail). */
  readonly onHookError?: HookFailurePolicy;
  /** Told of every hook failure, timeout and malformed reply (for metrics). */
  readonly onError?: (kind: MilterErrorKind) => void;
}

/**
 * negotiating: waiting for SMFIC_OPTNEG. open: negotiated. idle: after QUIT_NC, waiting for the
 * next CONNECT. closed: after QUIT, EOF or close().
 */
export type SessionState = 'negotiating' | 'open' | 'idle' | 'closed';

type Transaction = 'none' | 'open' | 'done';

/** Position of message-phase commands; a step backwards inside a transaction means a new one began. */
const ORDER: Partial<Record<Command['kind'], number>> = {
  connect: 1, helo: 2, mail: 3, rcpt: 4, data: 5, header: 6, endOfHeaders: 7, body: 8, endOfMessage: 9,
};
type EventCommand = Exclude<Command, { kind: 'optneg' | 'macro' | 'abort' | 'quit' | 'quitNewConnection' }>;
const STAGE_CHAR: Readonly<Record<EventCommand['kind'], string>> = {
  connect: 'C', helo: 'H', mail: 'M', rcpt: 'R', data: 'T', header: 'L', endOfHeaders: 'N', body: 'B', endOfMessage: 'E', unknown: 'U',
};
const FIRST_MESSAGE_ORDER = 3;

export class MilterSession implements ContextSource {
  readonly id: string;
  readonly macros = new MacroStore();
  readonly #filter: FilterSpec;
  readonly #baseLog: Logger;
  readonly #send: (packet: Buffer) => void;
  readonly #hookTimeoutMs: number;
  readonly #eomTimeoutMs: number;
  readonly #progressMs: number;
  readonly #policy: HookFailurePolicy;
  readonly #onError: ((kind: MilterErrorKind) => void) | undefined;
  /** Aborted when the session closes; made only when a hook asks for ctx.signal. */
  #lifetime: AbortController | undefined;
  #closedWhy: OnionMxError | undefined;
  readonly #ctx: SessionContext;
  /** Child loggers are built on first use: most connections and transactions log nothing but one line. */
  #connLog: Logger | undefined;
  #txLog: Logger | undefined;
  #qid: string | undefined;
  #state: SessionState = 'negotiating';
  #negotiated: Negotiated | undefined;
  #handler: FilterHandler | undefined;
  #txn: Transaction = 'none';
  #lastOrder = 0;
  #lastKind: Command['kind'] | undefined;
  #hookAbort: AbortController | undefined;
  #closing: Promise<void> | undefined;

  constructor(o: SessionOptions) {
    this.id = o.id;
    this.#filter = o.filter;
    this.#baseLog = o.log;
    this.#send = o.send;
    this.#hookTimeoutMs = o.hookTimeoutMs ?? 20_000;
    this.#eomTimeoutMs = o.eomTimeoutMs ?? 240_000;
    this.#progressMs = o.progressIntervalMs ?? 1000;
    this.#policy = o.onHookError ?? 'tempfail';
    this.#onError = o.onError;
    this.#ctx = new HookContext(this);
  }

  get state(): SessionState {
    return this.#state;
  }
  /** The last command handled (for graceful shutdown: QUIT_NC is a boundary). */
  get lastCommand(): Command['kind'] | undefined {
    return this.#lastKind;
  }
  get negotiated(): Negotiated | undefined {
    return this.#negotiated;
  }
  get log(): Logger {
    if (this.#qid === undefined) return (this.#connLog ??= this.#baseLog.child({ conn: this.id }));
    return (this.#txLog ??= this.#baseLog.child({ conn: this.id, qid: this.#qid }));
  }
  get version(): number {
    return this.#negotiated?.version ?? 0;
  }
  get headerLeadingSpace(): boolean {
    return ((this.#negotiated?.protocol ?? 0) & Proto.headerLeadingSpace) !== 0;
  }
  get signal(): AbortSignal {
    const hook = this.#hookAbort ?? (this.#hookAbort = new AbortController());
    return AbortSignal.any([this.#lifetimeSignal(), hook.signal]);
  }

  #lifetimeSignal(): AbortSignal {
    if (this.#lifetime === undefined) {
      this.#lifetime = new AbortController();
      if (this.#closedWhy !== undefined) this.#lifetime.abort(this.#closedWhy);
    }
    return this.#lifetime.signal;
  }

  /** Handles one command. Throws ProtocolError when the connection must be closed. */
  async handle(cmd: Command): Promise<void> {
    if (this.#state === 'closed') return;
    try {
      await this.#dispatch(cmd);
    } finally {
      if (cmd.kind !== 'macro') this.macros.commandDone();
      this.#lastKind = cmd.kind;
    }
  }

  /** Ends the session (EOF, error, shutdown): abort hook if a transaction is open, then close hook. Idempotent. */
  close(reason: string): Promise<void> {
    this.#closing ??= this.#finish(reason, 'closed');
    return this.#closing;
  }

  async #dispatch(cmd: Command): Promise<void> {
    switch (cmd.kind) {
      case 'optneg':
        this.#optneg(cmd);
        return;
      case 'macro':
        this.#macro(cmd.stage, cmd.macros);
        return;
      case 'abort':
        await this.#abort('ABORT');
        return;
      case 'quit':
        await this.close('QUIT');
        return;
      case 'quitNewConnection':
        await this.#finish('QUIT_NC', 'idle');
        return;
      case 'connect':
      case 'helo':
      case 'mail':
      case 'rcpt':
      case 'data':
      case 'header':
      case 'endOfHeaders':
      case 'body':
      case 'endOfMessage':
      case 'unknown':
        if (this.#state === 'negotiating') {
          throw new ProtocolError(ErrorCode.MilterSequence, `${cmd.kind} before SMFIC_OPTNEG`);
        }
        await this.#normaliseOrder(cmd);
        this.macros.commandArrived(STAGE_CHAR[cmd.kind]);
        await this.#event(cmd);
        return;
    }
  }

  async #event(cmd: EventCommand): Promise<void> {
    const h = this.#openHandler();
    const ctx = this.#ctx;
    switch (cmd.kind) {
      case 'connect':
        return this.#answer('connect', h.connect && (() => h.connect?.(ctx, cmd.info)));
      case 'helo':
        return this.#answer('helo', h.helo && (() => h.helo?.(ctx, cmd.name)));
      case 'mail':
        return this.#answer('mail', h.mailFrom && (() => h.mailFrom?.(ctx, envelopeAddress(cmd.address, cmd.args))));
      case 'rcpt':
        return this.#answer('rcpt', h.rcptTo && (() => h.rcptTo?.(ctx, envelopeAddress(cmd.address, cmd.args))));
      case 'data':
        return this.#answer('data', h.data && (() => h.data?.(ctx)));
      case 'header':
        return this.#answer('header', h.header && (() => h.header?.(ctx, cmd.name, cmd.value)));
      case 'endOfHeaders':
        return this.#answer('eoh', h.endOfHeaders && (() => h.endOfHeaders?.(ctx)));
      case 'body':
        return this.#answer('body', h.body && (() => h.body?.(ctx, cmd.chunk)));
      case 'unknown':
        return this.#answer('unknown', h.unknown && (() => h.unknown?.(ctx, cmd.line)));
      case 'endOfMessage':
        return this.#endOfMessage(h, cmd.chunk);
    }
  }

  #optneg(cmd: Extract<Command, { kind: 'optneg' }>): void {
    if (this.#state !== 'negotiating') throw new ProtocolError(ErrorCode.MilterSequence, 'second SMFIC_OPTNEG');
    const handler = this.#openHandler();
    const outcome = negotiate(cmd, this.#filter, handler);
    if (!outcome.ok) throw new ProtocolError(ErrorCode.MilterNegotiation, outcome.reason);
    const n = outcome.result;
    this.#negotiated = n;
    this.#state = 'open';
    if (n.droppedActions.length > 0) {
      this.log.warn({ actions: n.droppedActions, offered: cmd.actions }, 'MTA does not offer requested milter actions; dropped');
    }
    this.log.debug({ version: n.version, actions: n.actions, protocol: n.protocol, offered: cmd }, 'milter negotiated');
    this.#send(encodeOptnegReply(n));
  }

  #macro(stage: string, pairs: readonly (readonly [string, string])[]): void {
    this.macros.define(stage, pairs);
    const qid = this.macros.get('i');
    if (qid !== this.#qid) {
      this.#qid = qid;
      this.#txLog = undefined;
    }
  }

  /** Synthesises the ABORT the MTA left out: a new MAIL, or a step backwards, inside a transaction. */
  async #normaliseOrder(cmd: Command): Promise<void> {
    const order = ORDER[cmd.kind];
    if (order === undefined) return;
    if (this.#txn !== 'none' && (cmd.kind === 'mail' || order < this.#lastOrder)) {
      this.log.debug({ command: cmd.kind }, 'transaction restarted without ABORT; synthesising one');
      await this.#abort('implicit');
    }
    if (order >= FIRST_MESSAGE_ORDER && this.#txn === 'none') this.#txn = 'open';
    this.#lastOrder = order;
  }

  async #abort(why: string): Promise<void> {
    const wasOpen = this.#txn === 'open';
    if (this.#txn === 'none') {
      this.log.trace({ why }, 'ABORT outside a transaction dropped');
      return;
    }
    this.#txn = 'none';
    this.#lastOrder = Math.min(this.#lastOrder, 2);
    const h = this.#handler;
    if (wasOpen && h?.abort) await this.#notify('abort', () => h.abort?.(this.#ctx));
  }

  async #finish(reason: string, next: SessionState): Promise<void> {
    if (this.#state === 'closed') return;
    if (this.#txn === 'open') await this.#abort(reason);
    this.#txn = 'none';
    this.#lastOrder = 0;
    const h = this.#handler;
    this.#handler = undefined;
    if (next === 'closed') {
      this.#state = 'closed';
      this.#closedWhy = closedReason(reason);
      this.#lifetime?.abort(this.#closedWhy);
    } else if (this.#state !== 'negotiating') {
      this.#state = next;
    }
    if (h?.close) await this.#notify('close', () => h.close?.(this.#ctx));
    this.macros.clearAll();
    this.#qid = undefined;
    this.#txLog = undefined;
  }

  #openHandler(): FilterHandler {
    if (this.#handler !== undefined) return this.#handler;
    try {
      this.#handler = this.#filter.open(this.#ctx);
    } catch (err) {
      throw new OnionMxError(ErrorCode.MilterHookFailed, 'FilterSpec.open threw', { cause: err });
    }
    if (this.#state === 'idle') this.#state = 'open';
    return this.#handler;
  }

  /** Runs the hook for `event` (or continues without one) and sends its verdict unless NR was granted. */
  async #answer(event: Event, run: (() => HookResult) | undefined): Promise<void> {
    let verdict: Verdict = { kind: 'continue' };
    if (run !== undefined) verdict = (await this.#run(event, this.#hookTimeoutMs, run)).verdict;
    const noReply = ((this.#negotiated?.protocol ?? 0) & EVENT_BITS[event].noReply) !== 0;
    if (noReply) {
      if (verdict.kind !== 'continue') {
        this.log.warn({ event, verdict: verdict.kind }, 'hook answered an event negotiated as no-reply; answer dropped');
      }
      return;
    }
    if (verdict.kind === 'skip' && !(event === 'body' && this.#has(Proto.skip))) verdict = { kind: 'continue' };
    this.#send(this.#encode(verdict, event));
  }

  async #endOfMessage(h: FilterHandler, chunk: Buffer | undefined): Promise<void> {
    this.#txn = 'done';
    // libmilter semantics: data in BODYEOB is a last body chunk; a decisive body verdict ends here.
    if (chunk !== undefined && h.body) {
      const { verdict } = await this.#run('body', this.#hookTimeoutMs, () => h.body?.(this.#ctx, chunk));
      if (verdict.kind !== 'continue' && verdict.kind !== 'skip') {
        this.#send(this.#encode(verdict, 'eom'));
        return;
      }
    }
    const n = this.#negotiated;
    const strip = this.#filter.headerLeadingSpace === true && !this.headerLeadingSpace;
    const mods = new Modifications(n?.actions ?? 0, strip);
    let verdict: Verdict = { kind: 'continue' };
    if (h.endOfMessage) {
      const eom = new EomContext(this, mods, () => {
        this.#send(PROGRESS_PACKET);
      });
      const heartbeat = (): (() => void) => {
        const t = setInterval(() => {
          this.#send(PROGRESS_PACKET);
        }, this.#progressMs);
        return () => {
          clearInterval(t);
        };
      };
      const outcome = await this.#run('endOfMessage', this.#eomTimeoutMs, () => h.endOfMessage?.(eom), heartbeat);
      verdict = outcome.verdict;
      if (outcome.failed) mods.discard();
    }
    if (verdict.kind === 'skip') verdict = { kind: 'continue' };
    const final = this.#encodeChecked(verdict, 'eom');
    // A malformed final reply becomes the policy verdict, and the modifications go with it.
    const packets = final.failed ? (mods.discard(), []) : mods.close();
    this.#send(packets.length === 0 ? final.packet : Buffer.concat([...packets, final.packet]));
  }

  #encode(verdict: Verdict, event: string): Buffer {
    return this.#encodeChecked(verdict, event).packet;
  }

  /** Encodes a verdict; a malformed custom reply becomes the failure policy's verdict. */
  #encodeChecked(verdict: Verdict, event: string): { packet: Buffer; failed: boolean } {
    try {
      return { packet: encodeVerdict(verdict), failed: false };
    } catch (err) {
      this.#onError?.('bad-reply');
      this.log.warn({ err, event, code: ErrorCode.MilterBadReply, verdict: this.#policy }, 'hook returned a malformed reply');
      return { packet: encodeVerdict({ kind: this.#policy }), failed: true };
    }
  }

  #run(name: string, timeoutMs: number, run: () => HookResult, whilePending?: () => () => void) {
    this.#hookAbort = undefined;
    return callHook(run, {
      name,
      timeoutMs,
      policy: this.#policy,
      log: () => this.log,
      abort: (reason) => {
        (this.#hookAbort ??= new AbortController()).abort(reason);
      },
      ...(whilePending === undefined ? {} : { whilePending }),
      ...(this.#onError === undefined ? {} : { onError: this.#onError }),
    });
  }

  async #notify(name: string, run: () => void | Promise<void>): Promise<void> {
    try {
      await run();
    } catch (err) {
      this.log.warn({ err, hook: name, code: ErrorCode.MilterHookFailed }, 'milter hook failed');
    }
  }

  #has(bit: number): boolean {
    return ((this.#negotiated?.protocol ?? 0) & bit) !== 0;
  }
}

/** One abort reason per way a connection ends, made once: an Error per closed connection (with its stack) showed in profiles. */
const closedReasons = new Map<string, OnionMxError>();
function closedReason(reason: string): OnionMxError {
  let err = closedReasons.get(reason);
  if (err === undefined) {
    err = new OnionMxError(ErrorCode.MilterClosed, `connection ended: ${reason}`);
    if (closedReasons.size < 64) closedReasons.set(reason, err);
  }
  return err;
}
