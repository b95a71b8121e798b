// An in-process stand-in for the relay's upstream half (src/relay/upstream/api.ts), for tests of
// the inbound side: scripted replies, delays (return a promise the test resolves), failures and
// backpressure per onion, and a log of every call in order, so tests can assert ordering,
// concurrency and that bad input opened nothing.
//
//   const up = new FakeUpstreams({ [A]: { rcpt: (c) => c.forwardPath.startsWith('x') ? reply(550, '5.1.1 no') : OK } });
//   up.calls          // [{ onion, tx, op: 'begin' | 'mail' | 'rcpt' | 'data' | 'end' | 'release' | 'abort', arg }]
//   up.transactions   // every FakeTransaction opened: .message, .state, .violations
//   await up.waitFor(() => up.calls.some(...))   // resolves after the call that makes it true
import type { MailCommand, RcptCommand, SmtpReply } from '../../src/relay/envelope.ts';
import type { BeginOptions, UpstreamBegin, UpstreamCapabilities, UpstreamFailure, UpstreamTransaction, Upstreams } from '../../src/relay/upstream/api.ts';
import type { OnionTarget } from '../../src/resolve/types.ts';

export const OK: SmtpReply = { code: 250, lines: ['2.0.0 Ok'] };
export const GO_AHEAD: SmtpReply = { code: 354, lines: ['End data with <CR><LF>.<CR><LF>'] };

export function reply(code: number, ...lines: string[]): SmtpReply {
  return { code, lines };
}

export function failure(code: number, text: string, torCode?: string): UpstreamFailure {
  return { ok: false, reply: { code, lines: [text] }, torCode };
}

/** A promise the test settles: `const g = gate<SmtpReply>(); ... g.open(OK)`. */
export function gate<T>(): { readonly promise: Promise<T>; open(value: T): void } {
  let open!: (value: T) => void;
  const promise = new Promise<T>((resolve) => (open = resolve));
  return { promise, open };
}

type Answer<A extends unknown[]> = (...args: A) => SmtpReply | Promise<SmtpReply>;

export interface FakeScript {
  /** A failure (or a promise of one) refuses the begin; undefined or a promise of undefined opens. */
  readonly begin?: (options: BeginOptions | undefined) => UpstreamFailure | undefined | Promise<UpstreamFailure | undefined>;
  readonly capabilities?: Partial<UpstreamCapabilities>;
  readonly reused?: boolean;
  readonly mail?: Answer<[MailCommand]>;
  readonly rcpt?: Answer<[RcptCommand]>;
  readonly data?: Answer<[]>;
  /** Gets the message as written (wire form). */
  readonly end?: Answer<[string]>;
  /** write() returns false once this many bytes wait, until drain() (default: never). */
  readonly highWaterMark?: number;
}

export type FakeOp = 'begin' | 'mail' | 'rcpt' | 'data' | 'end' | 'release' | 'abort' | 'begin-failed';

export interface FakeCall {
  readonly onion: string;
  /** Index in `transactions`, -1 for a begin that opened nothing. */
  readonly tx: number;
  readonly op: FakeOp;
  readonly arg: string | undefined;
}

const ALL_CAPABILITIES: UpstreamCapabilities = { pipelining: true, size: 0, eightBitMime: true, smtpUtf8: true, dsn: true, enhancedStatusCodes: true, starttls: false, tls: false };

export class FakeUpstreams implements Upstreams {
  readonly calls: FakeCall[] = [];
  readonly transactions: FakeTransaction[] = [];
  readonly beginOptions: (BeginOptions | undefined)[] = [];
  readonly #script: (onion: string) => FakeScript;
  readonly #waiters: { check: () => boolean; resolve: () => void }[] = [];
  closed = false;

  constructor(script: Readonly<Record<string, FakeScript>> | ((onion: string) => FakeScript) = {}) {
    this.#script = typeof script === 'function' ? script : (onion) => script[onion] ?? {};
  }

  async begin(hops: readonly OnionTarget[], options?: BeginOptions): Promise<UpstreamBegin> {
    const first = hops[0];
    if (first === undefined) throw new Error('begin without hops');
    const script = this.#script(first.onion);
    this.beginOptions.push(options);
    this.record({ onion: first.onion, tx: -1, op: 'begin', arg: hops.map((h) => `${h.onion}:${h.port}`).join(',') });
    const refused = await script.begin?.(options);
    if (refused !== undefined) {
      this.record({ onion: first.onion, tx: -1, op: 'begin-failed', arg: refused.torCode });
      return refused;
    }
    if (options?.signal?.aborted === true) {
      this.record({ onion: first.onion, tx: -1, op: 'begin-failed', arg: 'aborted' });
      return failure(451, '4.4.0 aborted', 'aborted');
    }
    const tx = new FakeTransaction(this, first, script, this.transactions.length);
    this.transactions.push(tx);
    return { ok: true, transaction: tx };
  }

  get idleCount(): number {
    return 0;
  }

  get openCount(): number {
    return this.transactions.filter((t) => t.state === 'open').length;
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  /** Calls of one kind, optionally for one onion. */
  ops(op: FakeOp, onion?: string): FakeCall[] {
    return this.calls.filter((c) => c.op === op && (onion === undefined || c.onion === onion));
  }

  record(call: FakeCall): void {
    this.calls.push(call);
    for (const w of [...this.#waiters]) {
      if (w.check()) {
        this.#waiters.splice(this.#waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  }

  /** Resolves once `check` is true (checked now and after every call). */
  waitFor(check: () => boolean): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ check, resolve }));
  }
}

export class FakeTransaction implements UpstreamTransaction {
  readonly destination: OnionTarget;
  readonly reused: boolean;
  readonly capabilities: UpstreamCapabilities;
  readonly chunks: Buffer[] = [];
  /** Contract breaches seen (commands overlapping, out of order, after the end). */
  readonly violations: string[] = [];
  state: 'open' | 'released' | 'aborted' = 'open';
  abortReason: string | undefined;
  readonly #owner: FakeUpstreams;
  readonly #script: FakeScript;
  readonly #index: number;
  #outstanding: FakeOp[] = [];
  #stage: 'new' | 'mail' | 'rcpt' | 'data' | 'writing' | 'ended' = 'new';
  #waiting = 0;
  #drain: { promise: Promise<void>; open: () => void } | undefined;

  constructor(owner: FakeUpstreams, destination: OnionTarget, script: FakeScript, index: number) {
    this.#owner = owner;
    this.destination = destination;
    this.#script = script;
    this.#index = index;
    this.reused = script.reused ?? false;
    this.capabilities = { ...ALL_CAPABILITIES, ...script.capabilities };
  }

  get message(): string {
    return Buffer.concat(this.chunks).toString('latin1');
  }

  mail(command: MailCommand): Promise<SmtpReply> {
    this.#expect('mail', ['new']);
    this.#stage = 'mail';
    return this.#answer('mail', command.reversePath, () => this.#script.mail?.(command) ?? OK);
  }

  rcpt(command: RcptCommand): Promise<SmtpReply> {
    this.#expect('rcpt', ['mail', 'rcpt']);
    this.#stage = 'rcpt';
    return this.#answer('rcpt', command.forwardPath, () => this.#script.rcpt?.(command) ?? OK);
  }

  data(): Promise<SmtpReply> {
    this.#expect('data', ['rcpt']);
    this.#stage = 'data';
    return this.#answer('data', undefined, async () => {
      const r = await (this.#script.data?.() ?? GO_AHEAD);
      if (r.code === 354) this.#stage = 'writing';
      return r;
    });
  }

  write(chunk: Uint8Array): boolean {
    if (this.#stage !== 'writing' || this.state !== 'open') this.violations.push(`write in stage ${this.#stage}, state ${this.state}`);
    this.chunks.push(Buffer.from(chunk));
    this.#waiting += chunk.length;
    const hwm = this.#script.highWaterMark;
    return hwm === undefined || this.#waiting < hwm;
  }

  drained(): Promise<void> {
    const hwm = this.#script.highWaterMark;
    if (hwm === undefined || this.#waiting < hwm || this.state !== 'open') return Promise.resolve();
    if (this.#drain === undefined) {
      let open!: () => void;
      const promise = new Promise<void>((resolve) => (open = resolve));
      this.#drain = { promise, open };
    }
    return this.#drain.promise;
  }

  /** The test lets the written bytes "go out": drained() resolves. */
  drain(): void {
    this.#waiting = 0;
    const d = this.#drain;
    this.#drain = undefined;
    d?.open();
  }

  get drainPending(): boolean {
    return this.#drain !== undefined;
  }

  end(): Promise<SmtpReply> {
    this.#expect('end', ['writing']);
    this.#stage = 'ended';
    return this.#answer('end', undefined, () => this.#script.end?.(this.message) ?? reply(250, `2.0.0 Ok: queued as T${this.#index}`));
  }

  release(): void {
    if (this.state !== 'open') return;
    if (this.#outstanding.length > 0) this.violations.push(`release with ${this.#outstanding.join(',')} outstanding`);
    this.state = 'released';
    this.#owner.record({ onion: this.destination.onion, tx: this.#index, op: 'release', arg: undefined });
  }

  abort(reason: string): void {
    if (this.state !== 'open') return;
    this.state = 'aborted';
    this.abortReason = reason;
    this.#drain?.open();
    this.#owner.record({ onion: this.destination.onion, tx: this.#index, op: 'abort', arg: reason });
  }

  #expect(op: FakeOp, stages: readonly string[]): void {
    if (this.state !== 'open') this.violations.push(`${op} after ${this.state}`);
    if (!stages.includes(this.#stage)) this.violations.push(`${op} in stage ${this.#stage}`);
    const overlapping = this.#outstanding.filter((o) => !(o === 'rcpt' && op === 'rcpt' && this.capabilities.pipelining));
    if (overlapping.length > 0) this.violations.push(`${op} while ${overlapping.join(',')} outstanding`);
  }

  async #answer(op: FakeOp, arg: string | undefined, produce: () => SmtpReply | Promise<SmtpReply>): Promise<SmtpReply> {
    this.#outstanding.push(op);
    this.#owner.record({ onion: this.destination.onion, tx: this.#index, op, arg });
    try {
      return await produce();
    } finally {
      this.#outstanding.splice(this.#outstanding.indexOf(op), 1);
    }
  }
}
