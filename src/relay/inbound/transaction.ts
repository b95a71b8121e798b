// One inbound mail transaction (MAIL to the final reply) and its fan-out to the onions: one
// upstream transaction per destination, opened by the first RCPT routed there, and the order
// rules of the contract (src/relay/upstream/api.ts) kept here so the session need not know them:
//   - recipients join their destination in RCPT order (route lookups run in parallel, joining does
//     not), so RCPTs to one destination go out on its transaction in the order the MTA sent them;
//   - MAIL before the first RCPT, one command outstanding unless the server offered PIPELINING
//     (then the RCPTs go out behind MAIL without waiting for its reply, and overlap each other;
//     a refused MAIL is still every recipient's answer);
//   - a destination is released (back to the pool) only once its commands have settled, and
//     aborted at once (no final dot) when the message must not complete.
// Nothing here rejects: every failure is a reply.
import type { MailCommand, RcptCommand, SmtpReply } from '../envelope.ts';
import type { UpstreamBegin, UpstreamTransaction, Upstreams } from '../upstream/api.ts';
import type { RecipientRoute } from '../route.ts';
import type { OnionTarget } from '../../resolve/types.ts';
import { errorMessage } from '../../errors.ts';
import { answers } from './answers.ts';
import { relayedReply, replyClass } from './reply.ts';

export interface Recipient {
  readonly index: number;
  readonly command: RcptCommand;
  readonly domain: string;
  /** The RCPT reply the MTA gets; never rejects. */
  readonly reply: Promise<SmtpReply>;
  /** Set once the reply is known. */
  settled: SmtpReply | undefined;
  destination: Destination | undefined;
}

type Opened = { readonly ok: true; readonly tx: UpstreamTransaction; readonly mailReply: Promise<SmtpReply> } | { readonly ok: false; readonly reply: SmtpReply };

export type DestinationEnd = 'release' | 'abort';

/** One onion destination's upstream transaction within an inbound transaction. */
export class Destination {
  readonly key: string;
  readonly hops: readonly OnionTarget[];
  readonly #opened: Promise<Opened>;
  readonly #cancel = new AbortController();
  /** The last command in flight (or the open), so release waits for all of them. */
  #last: Promise<unknown>;
  #tx: UpstreamTransaction | undefined;
  #end: DestinationEnd | undefined;
  torCode: string | undefined;
  /** DATA's reply, once asked. */
  dataReply: SmtpReply | undefined;
  /** The final reply after the dot (or the reason the message was not completed). */
  finalReply: SmtpReply | undefined;

  constructor(upstreams: Upstreams, route: Extract<RecipientRoute, { kind: 'onion' }>, mail: MailCommand, queueId: string | undefined) {
    this.key = route.key;
    this.hops = route.hops;
    this.#opened = this.#open(upstreams, mail, queueId);
    this.#last = this.#opened;
  }

  /** `<onion>:<port>` of the hop the session reached (the first hop while none is known). */
  get onion(): string | undefined {
    const d = this.#tx?.destination;
    return d === undefined ? undefined : `${d.onion}:${d.port}`;
  }

  get reused(): boolean | undefined {
    return this.#tx?.reused;
  }

  get transaction(): UpstreamTransaction | undefined {
    return this.#end === undefined ? this.#tx : undefined;
  }

  async #open(upstreams: Upstreams, mail: MailCommand, queueId: string | undefined): Promise<Opened> {
    let begun: UpstreamBegin;
    try {
      begun = await upstreams.begin(this.hops, { signal: this.#cancel.signal, ...(queueId === undefined ? {} : { queueId }) });
    } catch (err) {
      return { ok: false, reply: answers.internal(`begin: ${errorMessage(err)}`) };
    }
    if (!begun.ok) {
      this.torCode = begun.torCode;
      return { ok: false, reply: relayedReply(begun.reply) };
    }
    const tx = begun.transaction;
    this.#tx = tx;
    if (this.#end === 'abort') {
      tx.abort('the inbound transaction was aborted');
      return { ok: false, reply: answers.lost };
    }
    const mailReply = settle(tx.mail(mail), 'MAIL');
    // RFC 2920: to a PIPELINING server the RCPTs follow MAIL at once (one write, one round trip).
    if (tx.capabilities.pipelining) return { ok: true, tx, mailReply };
    const reply = await mailReply;
    return mailRefusal(reply) ?? { ok: true, tx, mailReply };
  }

  /** RCPT on this destination, in the order of the calls. */
  rcpt(command: RcptCommand): Promise<SmtpReply> {
    const previous = this.#last;
    const reply = this.#opened.then(async (opened): Promise<SmtpReply> => {
      if (!opened.ok) return opened.reply;
      if (!opened.tx.capabilities.pipelining) await previous;
      if (this.#end === 'abort') return answers.lost;
      const rcpt = settle(opened.tx.rcpt(command), 'RCPT');
      const refused = mailRefusal(await opened.mailReply);
      return refused === undefined ? relayedReply(await rcpt) : refused.reply;
    });
    this.#last = reply;
    return reply;
  }

  /** DATA, once every RCPT has its reply. */
  data(): Promise<SmtpReply> {
    const reply = this.#last.then(async () => {
      const tx = this.transaction;
      this.dataReply = tx === undefined ? answers.internal('DATA without a transaction') : relayedReply(await settle(tx.data(), 'DATA'));
      return this.dataReply;
    });
    this.#last = reply;
    return reply;
  }

  /** The final dot and the server's reply for the message. */
  async finish(): Promise<SmtpReply> {
    const tx = this.transaction;
    if (tx === undefined) return (this.finalReply ??= answers.internal('end without a transaction'));
    this.finalReply = relayedReply(await settle(tx.end(), 'end of data'));
    return this.finalReply;
  }

  /**
   * Back to the pool once the commands in flight have settled (a session left inside DATA cannot
   * be reset, so it is aborted instead); a begin still waiting is cancelled when `cancelWaiting`.
   */
  release(cancelWaiting = false): void {
    if (this.#end !== undefined) return;
    this.#end = 'release';
    if (cancelWaiting) this.#cancel.abort();
    void this.#last.then(() => {
      if (this.dataReply?.code === 354 && this.finalReply === undefined) this.#tx?.abort('the transaction ended inside DATA');
      else this.#tx?.release();
    });
  }

  /** At once, without the final dot: the server discards the message. */
  abort(reason: string): void {
    if (this.#end !== undefined) return;
    this.#end = 'abort';
    this.#cancel.abort();
    this.#tx?.abort(reason);
  }
}

/**
 * The fan-out of one inbound transaction. Recipients join in RCPT order; the first recipient of a
 * destination opens it. In SMTP mode (one reply for the whole message) the transaction holds one
 * destination only.
 */
export class InboundTransaction {
  readonly mail: MailCommand;
  readonly queueId: string | undefined;
  readonly startedAt: number;
  readonly recipients: Recipient[] = [];
  readonly destinations = new Map<string, Destination>();
  readonly #upstreams: Upstreams;
  readonly #oneDestination: boolean;
  #joined: Promise<void> = Promise.resolve();
  #state: 'open' | 'ended' | 'aborted' = 'open';
  reachedData = false;

  constructor(options: { readonly mail: MailCommand; readonly queueId: string | undefined; readonly upstreams: Upstreams; readonly oneDestination: boolean; readonly now: number }) {
    this.mail = options.mail;
    this.queueId = options.queueId;
    this.#upstreams = options.upstreams;
    this.#oneDestination = options.oneDestination;
    this.startedAt = options.now;
  }

  get ended(): boolean {
    return this.#state !== 'open';
  }

  /** Adds a recipient whose route is known now or later; its reply promise never rejects. */
  addRecipient(command: RcptCommand, domain: string, route: RecipientRoute | Promise<RecipientRoute>): Recipient {
    const previous = this.#joined;
    let joined!: () => void;
    this.#joined = new Promise((resolve) => (joined = resolve));
    const recipient: { -readonly [K in keyof Recipient]: Recipient[K] } = { index: this.recipients.length, command, domain, reply: Promise.resolve(answers.ok), settled: undefined, destination: undefined };
    recipient.reply = this.#replyFor(recipient, route, previous, joined)
      .catch((err: unknown) => answers.internal(errorMessage(err)))
      .then((reply) => (recipient.settled = reply));
    this.recipients.push(recipient);
    return recipient;
  }

  async #replyFor(recipient: Recipient, route: RecipientRoute | Promise<RecipientRoute>, previous: Promise<void>, joined: () => void): Promise<SmtpReply> {
    let resolved: RecipientRoute | undefined;
    let failure: unknown;
    try {
      resolved = await route;
    } catch (err) {
      failure = err;
    }
    await previous;
    let reply: Promise<SmtpReply>;
    try {
      reply = resolved === undefined ? Promise.resolve(answers.internal(`route: ${errorMessage(failure)}`)) : this.#join(recipient, resolved);
    } finally {
      // The rcpt call is made (synchronously, in #join): the next recipient may join.
      joined();
    }
    return reply;
  }

  /** Synchronous up to the rcpt call, so joins keep RCPT order. */
  #join(recipient: Recipient, route: RecipientRoute): Promise<SmtpReply> {
    if (route.kind === 'refused') return Promise.resolve(route.reply);
    if (this.#state === 'aborted') return Promise.resolve(answers.lost);
    let destination = this.destinations.get(route.key);
    if (destination === undefined) {
      if (this.#oneDestination && this.destinations.size > 0) return Promise.resolve(answers.oneDestination);
      destination = new Destination(this.#upstreams, route, this.mail, this.queueId);
      this.destinations.set(route.key, destination);
    }
    recipient.destination = destination;
    return destination.rcpt(recipient.command);
  }

  /** Every RCPT's reply. */
  async replies(): Promise<readonly SmtpReply[]> {
    return Promise.all(this.recipients.map((r) => r.reply));
  }

  /** The recipients the onions accepted, in RCPT order (after replies()). */
  accepted(): readonly Recipient[] {
    return this.recipients.filter((r) => r.settled !== undefined && replyClass(r.settled) === 2);
  }

  /** No more recipients; destinations go back to the pool once their commands settle. */
  end(cancelWaiting = false): void {
    if (this.#state !== 'open') return;
    this.#state = 'ended';
    void this.#joined.then(() => {
      for (const d of this.destinations.values()) d.release(cancelWaiting);
    });
  }

  /** Gives up every upstream transaction now, without a final dot. */
  abort(reason: string): void {
    if (this.#state === 'aborted') return;
    this.#state = 'aborted';
    for (const d of this.destinations.values()) d.abort(reason);
  }
}

/** A refused MAIL is every recipient's answer: 5.6.7 (no SMTPUTF8), 5.3.4 (SIZE), the sender refused. */
function mailRefusal(reply: SmtpReply): Extract<Opened, { ok: false }> | undefined {
  return replyClass(reply) === 2 ? undefined : { ok: false, reply: relayedReply(reply) };
}

/** Awaits an upstream command; a rejection (the contract says none happens) becomes a 451 reply. */
async function settle(p: Promise<SmtpReply>, what: string): Promise<SmtpReply> {
  try {
    return await p;
  } catch (err) {
    return answers.internal(`${what}: ${errorMessage(err)}`);
  }
}
