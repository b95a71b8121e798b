// One MTA connection to the relay, LMTP or SMTP, as an explicit state machine without I/O: bytes
// in (receive), replies out (transport.write), flow control (transport.pause/resume).
//
// Phases: `command` (lines are parsed and dispatched as they arrive) -> DATA -> `data-wait` (the
// barrier: every RCPT's outcome, then DATA on each destination with accepted recipients) ->
// `data` (bytes stream through the DataScanner to every destination that said 354) -> the final
// replies -> `command`; `closed` at the end. Pipelined commands are answered in order (a queue of
// reply slots, each filled when its work is done) but their work starts at once: each RCPT is
// routed and sent to its destination's upstream transaction as soon as it is read, so recipients
// on different onions are served in parallel. Every RCPT is answered with the onion's own reply
// (or the upstream half's failure reply); after the dot, LMTP answers once per accepted recipient,
// in RCPT order, each with its destination's final reply; SMTP answers once, for its one
// destination. No reply claims more than the onion did.
import type { Logger } from '../../log.ts';
import type { DecisionSource } from '../../lookup/answerer.ts';
import type { SmtpReply } from '../envelope.ts';
import type { Upstreams } from '../upstream/api.ts';
import { routeRecipient } from '../route.ts';
import { answers } from './answers.ts';
import { parseCommandLine, type Command, type EsmtpParam } from './command.ts';
import { DataScanner } from './data-scanner.ts';
import { deliveryDebugFields, deliveryLogFields, outcomeOf, type DeliveryReport, type RecipientResult, type RelayListenerKind } from './delivery.ts';
import { CommandLineReader, type LineEvent } from './line-reader.ts';
import { mailCommand, rcptCommand } from './params.ts';
import { encodeReply, replyClass } from './reply.ts';
import { InboundTransaction, type Destination } from './transaction.ts';

/** Read when a transaction starts: a reload takes effect for the next one. */
export interface RelaySettings {
  readonly resolver: DecisionSource;
  readonly upstreams: Upstreams;
  readonly heloName: string;
  readonly maxMessageSize: number;
  readonly maxRecipients: number;
  /** Header fields deleted from every message (the routing header). */
  readonly deleteHeaders: readonly string[];
}

export interface SessionTransport {
  write(text: string): void;
  /** Stop reading the MTA's bytes (backpressure) / start again. */
  pause(): void;
  resume(): void;
  /** Close once what was written has gone out. */
  close(): void;
}

export interface RelaySessionOptions {
  readonly kind: RelayListenerKind;
  readonly settings: () => RelaySettings;
  readonly transport: SessionTransport;
  readonly log: Logger;
  /** RFC 5321 §4.5.3.2.7: the server waits this long for the MTA (5 min), then says 421 4.4.2. */
  readonly idleTimeoutMs: number;
  readonly onDelivery?: (report: DeliveryReport) => void;
  readonly now?: () => number;
}

/** Postfix's line_length_limit: room for MAIL with every DSN and SMTPUTF8 parameter. */
export const MAX_COMMAND_LINE = 2048;
/** Refused commands before the relay gives up on the client (Postfix's smtpd_hard_error_limit). */
export const MAX_ERRORS = 20;
/** Replies waiting to be sent before the relay stops reading pipelined commands. */
const MAX_PENDING_REPLIES = 256;
/** Bytes held while a DATA decision is pending (a client that sends the message before the 354). */
const MAX_HELD_BYTES = 256 * 1024;

type Phase = 'command' | 'data-wait' | 'data' | 'closed';
type PauseReason = 'upstream' | 'replies' | 'held';

interface Slot {
  replies: readonly SmtpReply[] | undefined;
  readonly after: (() => void) | undefined;
  /** How many replies the slot stands for while it is still waiting (the recipients of an LMTP dot). */
  readonly owed: number;
}

export class RelaySession {
  readonly done: Promise<void>;
  readonly #o: RelaySessionOptions;
  readonly #kind: RelayListenerKind;
  readonly #now: () => number;
  readonly #reader = new CommandLineReader(MAX_COMMAND_LINE);
  readonly #slots: Slot[] = [];
  readonly #paused = new Set<PauseReason>();
  readonly #notDrained = new Set<Destination>();
  #settings: RelaySettings;
  #phase: Phase = 'command';
  #greeted: 'none' | 'helo' | 'ehlo' = 'none';
  /** The transaction MAIL opened, until its end (final replies, DATA refused, RSET, QUIT, ...). */
  #tx: InboundTransaction | undefined;
  #scanner: DataScanner | undefined;
  #live: readonly Destination[] = [];
  #xforward = new Map<string, string>();
  #errors = 0;
  #idle: NodeJS.Timeout | undefined;
  #inputEnded = false;
  /** Inside #readCommands: replies wait for the end of the group. */
  #reading = false;
  #draining = false;
  #closing = false;
  #finished!: () => void;

  constructor(options: RelaySessionOptions) {
    this.#o = options;
    this.#kind = options.kind;
    this.#now = options.now ?? Date.now;
    this.#settings = options.settings();
    this.done = new Promise((resolve) => (this.#finished = resolve));
  }

  get phase(): Phase {
    return this.#phase;
  }

  // Methods, not field reads, so checks after an await or a call are not narrowed away.
  #isClosed(): boolean {
    return this.#phase === 'closed';
  }

  #inData(): boolean {
    return this.#phase === 'data';
  }

  start(): void {
    this.#o.transport.write(encodeReply(answers.greeting(this.#settings.heloName, this.#kind)));
    this.#updateIdle();
  }

  /** Bytes from the MTA. */
  receive(chunk: Uint8Array): void {
    if (this.#phase === 'closed' || this.#closing) return;
    this.#clearIdle();
    if (this.#phase === 'data') this.#feed(chunk);
    else {
      this.#reader.push(chunk);
      if (this.#phase === 'command') this.#readCommands();
    }
    this.#updateFlow();
    this.#updateIdle();
  }

  /** The MTA half-closed: answer what it sent, then close; in DATA it means the message is incomplete. */
  inputEnded(): void {
    if (this.#phase === 'closed') return;
    this.#inputEnded = true;
    if (this.#phase === 'data') {
      this.#closeAll('lost');
      return;
    }
    if (this.#phase === 'command') this.#endOfInput();
  }

  /** The connection is gone (error, reset, destroyed): nothing more can be said to the MTA. */
  lost(): void {
    this.#closeAll('lost');
  }

  /**
   * The shutdown grace is over: every reply still owed is answered 451 4.3.2, then 421 and the
   * connection closes. An onion may still accept a message whose final reply is answered so: the
   * MTA retries it, a duplicate SMTP allows (RFC 5321 §6.1), as it would after the connection was
   * simply lost, but with a reply that says why. Inside DATA the MTA is not reading replies: the
   * connection is only closed, and without its dot no onion delivers the message.
   */
  abandon(): void {
    if (this.#phase === 'closed') return;
    if (this.#phase !== 'data') {
      let text = '';
      for (const slot of this.#slots) {
        for (const r of slot.replies ?? Array.from({ length: slot.owed }, () => answers.abandoned)) text += encodeReply(r);
      }
      this.#o.transport.write(text + encodeReply(answers.shuttingDown(this.#settings.heloName)));
    }
    this.#closeAll('shutdown');
  }

  /** Shutting down: finish the transaction in progress, then say 421 and close. */
  drain(): void {
    this.#draining = true;
    if (this.#phase === 'command' && this.#tx === undefined && this.#slots.length === 0) this.#shutDown();
  }

  // ---- commands ---------------------------------------------------------------------------------

  #readCommands(): void {
    // The replies to what was read together are pumped once, after the last command of the group.
    this.#reading = true;
    try {
      while (this.#phase === 'command' && !this.#closing) {
        const event = this.#reader.next();
        if (event === undefined) break;
        this.#onLine(event);
      }
    } finally {
      this.#reading = false;
    }
    this.#pump();
    if (this.#inputEnded && this.#phase === 'command') this.#endOfInput();
  }

  #onLine(event: LineEvent): void {
    switch (event.kind) {
      case 'too-long':
        this.#refuse(answers.lineTooLong);
        break;
      case 'bare-lf':
        this.#refuse(answers.bareLf);
        break;
      case 'bare-cr':
        this.#refuse(answers.bareCr);
        break;
      case 'line': {
        const parsed = parseCommandLine(event.bytes);
        if (parsed.ok) this.#dispatch(parsed.command);
        else this.#refuse(parsed.reply);
        break;
      }
    }
  }

  #dispatch(command: Command): void {
    if (this.#draining && this.#tx === undefined && command.verb !== 'QUIT') {
      this.#shutDown();
      return;
    }
    switch (command.verb) {
      case 'LHLO':
      case 'EHLO':
      case 'HELO':
        this.#hello(command.verb);
        break;
      case 'MAIL':
        this.#mail(command.path, command.params);
        break;
      case 'RCPT':
        this.#rcpt(command.path, command.params);
        break;
      case 'DATA':
        this.#data();
        break;
      case 'RSET':
        this.#endTransaction();
        this.#xforward = new Map();
        this.#enqueue(answers.ok);
        break;
      case 'NOOP':
        this.#enqueue(answers.ok);
        break;
      case 'QUIT':
        this.#endTransaction();
        this.#closing = true;
        this.#enqueue(answers.bye, () => {
          this.#closeAll('quit');
        });
        break;
      case 'VRFY':
        this.#enqueue(answers.vrfy);
        break;
      case 'HELP':
        this.#enqueue(answers.help);
        break;
      case 'XFORWARD':
        if (this.#greeted === 'none') this.#refuse(answers.helloFirst(this.#kind));
        else if (this.#tx !== undefined) this.#refuse(answers.xforwardInTransaction);
        else {
          for (const [k, v] of command.attributes) this.#xforward.set(k, v);
          this.#enqueue(answers.ok);
        }
        break;
    }
  }

  #hello(verb: 'LHLO' | 'EHLO' | 'HELO'): void {
    if ((verb === 'LHLO') !== (this.#kind === 'lmtp')) {
      this.#refuse(answers.wrongHello(this.#kind));
      return;
    }
    // RFC 5321 §4.1.4: a new hello resets the transaction, as RSET does.
    this.#endTransaction();
    this.#xforward = new Map();
    this.#settings = this.#o.settings();
    this.#greeted = verb === 'HELO' ? 'helo' : 'ehlo';
    const s = this.#settings;
    this.#enqueue(verb === 'HELO' ? answers.helo(s.heloName) : answers.extended(s.heloName, s.maxMessageSize));
  }

  #mail(path: string, params: readonly EsmtpParam[]): void {
    if (this.#greeted === 'none') {
      this.#refuse(answers.helloFirst(this.#kind));
      return;
    }
    if (this.#tx !== undefined) {
      this.#refuse(answers.nestedMail);
      return;
    }
    this.#settings = this.#o.settings();
    const parsed = mailCommand(path, params, { extended: this.#greeted === 'ehlo', maxMessageSize: this.#settings.maxMessageSize });
    if (!parsed.ok) {
      this.#refuse(parsed.reply);
      return;
    }
    const ident = this.#xforward.get('IDENT');
    this.#tx = new InboundTransaction({
      mail: parsed.command,
      // Postfix sends [UNAVAILABLE] when it has no value.
      queueId: ident === undefined || ident.startsWith('[') ? undefined : ident,
      upstreams: this.#settings.upstreams,
      oneDestination: this.#kind === 'smtp',
      now: this.#now(),
    });
    this.#enqueue(answers.senderOk);
  }

  #rcpt(path: string, params: readonly EsmtpParam[]): void {
    const tx = this.#tx;
    if (tx === undefined) {
      this.#refuse(answers.needMail);
      return;
    }
    if (tx.recipients.length >= this.#settings.maxRecipients) {
      this.#enqueue(answers.tooManyRecipients);
      return;
    }
    const parsed = rcptCommand(path, params, { extended: this.#greeted === 'ehlo', smtputf8: tx.mail.params.smtputf8 === true });
    if (!parsed.ok) {
      this.#refuse(parsed.reply);
      return;
    }
    // The only place an upstream connection can be opened: a RCPT whose domain has an onion route.
    const recipient = tx.addRecipient(parsed.command, parsed.domain, routeRecipient(this.#settings.resolver, parsed.domain));
    this.#enqueue(recipient.reply);
  }

  #data(): void {
    const tx = this.#tx;
    if (tx === undefined) {
      this.#refuse(answers.needMail);
      return;
    }
    if (tx.recipients.length === 0) {
      this.#enqueue(answers.noValidRecipients(this.#kind));
      return;
    }
    tx.reachedData = true;
    this.#phase = 'data-wait';
    this.#enqueue(this.#startData(tx));
  }

  /** The DATA barrier: every RCPT's outcome, then DATA to each destination that accepted someone. */
  async #startData(tx: InboundTransaction): Promise<SmtpReply> {
    await tx.replies();
    if (this.#isClosed()) return answers.lost;
    const accepted = tx.accepted();
    if (accepted.length === 0) {
      this.#detach(tx);
      tx.end();
      this.#report(tx, undefined);
      return answers.noValidRecipients(this.#kind);
    }
    const destinations = [...new Set(accepted.map((r) => r.destination).filter((d) => d !== undefined))];
    const replies = await Promise.all(destinations.map((d) => d.data()));
    if (this.#isClosed()) return answers.lost;
    const live = destinations.filter((d) => d.dataReply?.code === 354);
    if (live.length === 0) {
      this.#detach(tx);
      tx.end();
      this.#report(tx, { size: 0, finalOf: (d) => d?.dataReply ?? answers.internal('DATA'), aborted: undefined });
      // One reply for all: a temporary refusal wins, so no recipient bounces for another's hiccup.
      return replies.find((r) => replyClass(r) === 4) ?? replies[0] ?? answers.internal('DATA');
    }
    this.#live = live;
    this.#scanner = new DataScanner({ maxMessageSize: this.#settings.maxMessageSize, deleteHeaders: this.#settings.deleteHeaders });
    this.#phase = 'data';
    this.#paused.delete('held');
    const rest = this.#reader.takeRest();
    if (rest.length > 0) this.#feed(rest);
    if (this.#inData() && this.#inputEnded) this.#closeAll('lost');
    this.#updateFlow();
    return answers.startData;
  }

  // ---- data -------------------------------------------------------------------------------------

  #feed(chunk: Uint8Array): void {
    const scanner = this.#scanner;
    const tx = this.#tx;
    if (scanner === undefined || tx === undefined) return;
    const hadProblem = scanner.problem !== undefined;
    const result = scanner.push(chunk);
    const problem = scanner.problem;
    if (problem !== undefined) {
      if (!hadProblem) for (const d of this.#live) d.abort(`message refused: ${problem.kind}`);
    } else {
      for (const piece of result.forward) {
        for (const d of this.#live) {
          const upstream = d.transaction;
          if (upstream !== undefined && !upstream.write(piece)) this.#awaitDrain(d);
        }
      }
    }
    if (result.rest === undefined) return;
    // The final dot: the replies come when every destination answered; commands go on meanwhile.
    const live = this.#live;
    this.#live = [];
    this.#scanner = undefined;
    this.#phase = 'command';
    this.#notDrained.clear();
    this.#paused.delete('upstream');
    this.#detach(tx);
    this.#enqueue(this.#finishData(tx, live, scanner), undefined, this.#kind === 'smtp' ? 1 : tx.accepted().length);
    this.#reader.push(result.rest);
    this.#readCommands();
  }

  #awaitDrain(d: Destination): void {
    if (this.#notDrained.has(d)) return;
    this.#notDrained.add(d);
    this.#paused.add('upstream');
    this.#clearIdle();
    void (d.transaction?.drained() ?? Promise.resolve()).then(() => {
      this.#notDrained.delete(d);
      if (this.#notDrained.size === 0 && this.#paused.delete('upstream')) {
        this.#updateFlow();
        this.#updateIdle();
      }
    });
  }

  async #finishData(tx: InboundTransaction, live: readonly Destination[], scanner: DataScanner): Promise<readonly SmtpReply[]> {
    const problem = scanner.problem;
    if (problem !== undefined) {
      const refusal = answers.refusedData(problem, this.#settings.maxMessageSize);
      for (const d of live) d.finalReply = refusal;
    } else {
      await Promise.all(live.map((d) => d.finish()));
    }
    const finalOf = (d: Destination | undefined): SmtpReply => d?.finalReply ?? d?.dataReply ?? answers.internal('no final reply');
    const accepted = tx.accepted();
    tx.end();
    this.#report(tx, { size: scanner.size, finalOf, aborted: problem === undefined ? undefined : 'refused' });
    if (this.#kind === 'smtp') return [finalOf(accepted[0]?.destination)];
    return accepted.map((r) => finalOf(r.destination));
  }

  // ---- transaction end, reports -----------------------------------------------------------------

  /** RSET, QUIT, EHLO, end of input: the open transaction ends without DATA. */
  #endTransaction(cancelWaiting = false): void {
    const tx = this.#tx;
    if (tx === undefined) return;
    this.#detach(tx);
    tx.end(cancelWaiting);
    this.#reportIfAllFailed(tx);
  }

  /** A transaction that never reached DATA is a delivery attempt only when every recipient failed. */
  #reportIfAllFailed(tx: InboundTransaction): void {
    if (tx.recipients.length === 0) return;
    void tx.replies().then(() => {
      if (tx.accepted().length === 0) this.#report(tx, undefined);
      else this.#o.log.debug({ ...(tx.queueId === undefined ? {} : { qid: tx.queueId }), recipients: tx.recipients.length }, 'relay transaction ended before DATA');
    });
  }

  /** The transaction is no longer the session's: new commands start afresh (its upstream side may still be finishing). */
  #detach(tx: InboundTransaction): void {
    if (this.#tx === tx) this.#tx = undefined;
    this.#xforward = new Map();
    if (this.#phase === 'data-wait') {
      this.#phase = 'command';
      // After the DATA reply's slot: what was pipelined behind DATA is read as commands.
      queueMicrotask(() => {
        this.#readCommands();
        this.#updateFlow();
      });
    }
    // After the replies the caller is about to queue (the final replies, RSET's 250).
    if (this.#draining) {
      queueMicrotask(() => {
        if (!this.#closing && !this.#isClosed()) this.#shutDown();
      });
    }
  }

  /** The log line and the metrics for one delivery attempt. */
  #report(tx: InboundTransaction, data: { readonly size: number; readonly finalOf: (d: Destination | undefined) => SmtpReply; readonly aborted: string | undefined } | undefined): void {
    const accepted = new Set(tx.accepted());
    const recipients: RecipientResult[] = tx.recipients.map((r) => {
      const d = r.destination;
      const reply = accepted.has(r) && data !== undefined ? data.finalOf(d) : (r.settled ?? answers.lost);
      const first = d?.hops[0];
      return {
        domain: r.domain,
        address: r.command.forwardPath,
        onion: d?.onion ?? (first === undefined ? undefined : `${first.onion}:${first.port}`),
        outcome: outcomeOf(reply),
        reply,
        torCode: d?.torCode,
        reused: d?.reused,
      };
    });
    const report: DeliveryReport = {
      listener: this.#kind,
      queueId: tx.queueId,
      sender: tx.mail.reversePath,
      recipients,
      ms: this.#now() - tx.startedAt,
      size: data?.size ?? 0,
      aborted: data?.aborted,
    };
    const log = this.#o.log;
    log.info(deliveryLogFields(report), 'relay delivery');
    if (log.isLevelEnabled('debug')) log.debug(deliveryDebugFields(report), 'relay delivery addresses');
    this.#o.onDelivery?.(report);
  }

  // ---- replies ----------------------------------------------------------------------------------

  #refuse(reply: SmtpReply): void {
    this.#enqueue(reply);
    if (++this.#errors >= MAX_ERRORS && !this.#closing) {
      this.#closing = true;
      this.#endTransaction(true);
      this.#enqueue(answers.tooManyErrors, () => {
        this.#closeAll('errors');
      });
    }
  }

  #enqueue(reply: SmtpReply | Promise<SmtpReply | readonly SmtpReply[]>, after?: () => void, owed = 1): void {
    const slot: Slot = { replies: undefined, after, owed };
    this.#slots.push(slot);
    if (!(reply instanceof Promise)) {
      slot.replies = [reply];
      if (!this.#reading) this.#pump();
      return;
    }
    void reply.then(
      (r) => {
        slot.replies = Array.isArray(r) ? (r as readonly SmtpReply[]) : [r as SmtpReply];
        this.#pump();
      },
      (err: unknown) => {
        slot.replies = [answers.internal(String(err))];
        this.#pump();
      },
    );
  }

  #pump(): void {
    let text = '';
    const afters: (() => void)[] = [];
    // Replies ready ahead of one still being worked on wait for it, so that a pipelined group's
    // replies leave in one write (MAIL's 250 with the onion's RCPT reply). RFC 2920 §3.2 lets a
    // server buffer replies; every slot fills without more input from the client, so nothing waits on it.
    const held = this.#slots.some((slot) => slot.replies === undefined);
    for (let head = this.#slots[0]; !held && head?.replies !== undefined; head = this.#slots[0]) {
      this.#slots.shift();
      for (const r of head.replies) text += encodeReply(r);
      if (head.after !== undefined) afters.push(head.after);
    }
    if (text !== '' && this.#phase !== 'closed') this.#o.transport.write(text);
    for (const after of afters) after();
    if (this.#phase === 'closed') return;
    if (this.#phase === 'command' && this.#slots.length === 0) {
      if (this.#inputEnded) this.#closeAll('end of input');
      else if (this.#draining && this.#tx === undefined && !this.#closing) this.#shutDown();
    }
    this.#updateFlow();
    this.#updateIdle();
  }

  #endOfInput(): void {
    this.#endTransaction(true);
    if (this.#slots.length === 0) this.#closeAll('end of input');
  }

  #shutDown(): void {
    this.#closing = true;
    this.#enqueue(answers.shuttingDown(this.#settings.heloName), () => {
      this.#closeAll('shutdown');
    });
  }

  // ---- flow, timers, the end --------------------------------------------------------------------

  #updateFlow(): void {
    if (this.#phase === 'closed') return;
    if (this.#slots.length > MAX_PENDING_REPLIES) this.#paused.add('replies');
    else this.#paused.delete('replies');
    if (this.#phase === 'data-wait' && this.#reader.bufferedBytes > MAX_HELD_BYTES) this.#paused.add('held');
    else this.#paused.delete('held');
    if (this.#paused.size > 0) this.#o.transport.pause();
    else this.#o.transport.resume();
  }

  /** Armed only while the relay waits for the MTA (no reply owed, no upstream to wait for). */
  #updateIdle(): void {
    const waitingForMta = (this.#phase === 'command' || this.#phase === 'data') && this.#slots.length === 0 && !this.#paused.has('upstream') && !this.#closing;
    if (!waitingForMta) {
      this.#clearIdle();
      return;
    }
    if (this.#idle !== undefined) return;
    this.#idle = setTimeout(() => {
      this.#idle = undefined;
      this.#o.log.info({ phase: this.#phase, idleTimeoutMs: this.#o.idleTimeoutMs }, 'relay connection idle: closing');
      this.#o.transport.write(encodeReply(answers.timeout(this.#settings.heloName)));
      this.#closeAll('timeout');
    }, this.#o.idleTimeoutMs);
    // The connection's socket keeps the process alive; this timer alone should not.
    this.#idle.unref();
  }

  #clearIdle(): void {
    if (this.#idle === undefined) return;
    clearTimeout(this.#idle);
    this.#idle = undefined;
  }

  /** The end of the session: a transaction inside DATA is aborted (no final dot), anything else released. */
  #closeAll(why: 'lost' | 'timeout' | 'quit' | 'errors' | 'shutdown' | 'end of input'): void {
    if (this.#phase === 'closed') return;
    const inData = this.#phase === 'data';
    this.#phase = 'closed';
    this.#clearIdle();
    const tx = this.#tx;
    this.#tx = undefined;
    if (tx !== undefined && tx.reachedData) {
      tx.abort(why === 'timeout' ? 'the MTA timed out during DATA' : 'the MTA went away during DATA');
      if (inData) this.#report(tx, { size: this.#scanner?.size ?? 0, finalOf: () => answers.lost, aborted: why });
    } else if (tx !== undefined) {
      tx.end(true);
      this.#reportIfAllFailed(tx);
    }
    this.#live = [];
    this.#scanner = undefined;
    this.#slots.length = 0;
    this.#o.transport.close();
    this.#finished();
  }
}
