// The socket under one upstream SMTP session: command lines out, replies in (in order, each wait
// bounded), message bytes out with backpressure, and the STARTTLS upgrade. Thin glue: what the
// replies mean is the session's business. Never throws; the first failure (timeout, lost
// connection, bytes that are not SMTP) is sticky and ends the socket.
//
// It never half-closes (socket.end()): through Tor an EOF ends the stream, and a reply still on
// its way back would be lost. The socket is only ever destroyed, after the last reply needed.
import type { Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { SmtpReplyReader, type SmtpReply } from '../../tor/smtp-reply.ts';
import { CoalescingWriter } from '../coalesce.ts';

export type WireFailure =
  | { readonly kind: 'timeout'; readonly ms: number; readonly detail: string }
  | { readonly kind: 'closed'; readonly detail: string }
  | { readonly kind: 'protocol'; readonly detail: string };

export type WireResult = { readonly ok: true; readonly reply: SmtpReply } | { readonly ok: false; readonly failure: WireFailure };

interface Waiter {
  readonly resolve: (r: WireResult) => void;
  readonly timer: NodeJS.Timeout;
}

export class SmtpWire {
  #socket: Socket | TLSSocket;
  /** Commands and message bytes of one turn (MAIL and its pipelined RCPTs, the dot after the last piece) in one write. */
  #out: CoalescingWriter;
  /** The plaintext socket under TLS, destroyed with it. */
  readonly #raw: Socket;
  #reader = new SmtpReplyReader();
  /** Replies no one waited for yet (pipelined ones arrive before their waiter, or unsolicited ones). */
  #early: SmtpReply[] = [];
  readonly #waiters: Waiter[] = [];
  #failure: WireFailure | undefined;
  #tls = false;
  /** Called when a reply arrives that nobody waits for, or the connection fails: an idle session has gone bad. */
  onIdleTrouble: (() => void) | undefined;

  constructor(socket: Socket) {
    this.#raw = socket;
    this.#socket = socket;
    this.#out = new CoalescingWriter(socket);
    socket.setNoDelay(true);
    // Kept for the socket's whole life: under TLS errors may still surface on the raw socket.
    socket.on('error', (err) => {
      this.#fail({ kind: 'closed', detail: `connection error: ${err.message}` });
    });
    this.#attach(socket);
  }

  get failure(): WireFailure | undefined {
    return this.#failure;
  }

  get tls(): boolean {
    return this.#tls;
  }

  /** Replies still owed. */
  get pending(): number {
    return this.#waiters.length;
  }

  /** Writes a command line (CRLF added). Does nothing once the wire failed. */
  send(line: string): void {
    if (this.#failure === undefined) this.#out.write(`${line}\r\n`);
  }

  /** The next reply in order, or the failure; a timeout fails the whole wire (replies would no longer match their commands). */
  expect(timeoutMs: number): Promise<WireResult> {
    if (this.#failure !== undefined) return Promise.resolve({ ok: false, failure: this.#failure });
    if (this.#waiters.length === 0) {
      const early = this.#early.shift();
      if (early !== undefined) return Promise.resolve({ ok: true, reply: early });
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#fail({ kind: 'timeout', ms: timeoutMs, detail: `no reply within ${timeoutMs} ms` });
      }, timeoutMs);
      this.#waiters.push({ resolve, timer });
    });
  }

  /** Message bytes; false when the caller should wait for drained(). Dropped once the wire failed. */
  write(chunk: Uint8Array): boolean {
    if (this.#failure !== undefined) return true;
    return this.#out.write(chunk);
  }

  /** Resolves once the socket's buffer drained, or fails it when that takes longer than timeoutMs. */
  drained(timeoutMs: number): Promise<WireFailure | undefined> {
    if (this.#failure !== undefined || !this.#socket.writableNeedDrain) return Promise.resolve(this.#failure);
    const socket = this.#socket;
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        socket.off('drain', done);
        socket.off('close', done);
        resolve(this.#failure);
      };
      const timer = setTimeout(() => {
        this.#fail({ kind: 'timeout', ms: timeoutMs, detail: `the server read nothing for ${timeoutMs} ms` });
        done();
      }, timeoutMs);
      socket.on('drain', done);
      socket.on('close', done);
    });
  }

  /**
   * Replaces the plaintext stream with TLS after the server's 220 to STARTTLS. Certificates are
   * not checked: the onion address already authenticates the server. Anything the server sent in
   * plaintext after its 220 is discarded (RFC 3207 §4.2: nothing from before TLS is trusted).
   */
  startTls(servername: string, timeoutMs: number): Promise<WireFailure | undefined> {
    if (this.#failure !== undefined) return Promise.resolve(this.#failure);
    this.#detach(this.#raw);
    this.#reader = new SmtpReplyReader();
    this.#early = [];
    return new Promise((resolve) => {
      const secure = tlsConnect({ socket: this.#raw, servername, rejectUnauthorized: false });
      this.#socket = secure;
      this.#out = new CoalescingWriter(secure);
      let settled = false;
      const finish = (failure: WireFailure | undefined): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        secure.off('secureConnect', onSecure);
        if (failure !== undefined) this.#fail(failure);
        resolve(this.#failure);
      };
      const onSecure = (): void => {
        this.#tls = true;
        finish(undefined);
      };
      const timer = setTimeout(() => {
        finish({ kind: 'timeout', ms: timeoutMs, detail: `TLS handshake not done within ${timeoutMs} ms` });
      }, timeoutMs);
      secure.once('secureConnect', onSecure);
      secure.on('error', (err: Error) => {
        const failure: WireFailure = { kind: 'closed', detail: `TLS error: ${err.message}` };
        finish(failure);
        this.#fail(failure);
      });
      secure.once('close', () => {
        finish({ kind: 'closed', detail: 'the connection closed during the TLS handshake' });
      });
      this.#attach(secure);
    });
  }

  /** Ends the connection at once (no FIN-and-wait); pending waits get `closed` with the reason. */
  destroy(reason = 'closed by the relay'): void {
    this.#fail({ kind: 'closed', detail: reason });
  }

  #attach(socket: Socket | TLSSocket): void {
    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('close', this.#onClose);
  }

  #detach(socket: Socket): void {
    socket.off('data', this.#onData);
    socket.off('end', this.#onEnd);
    socket.off('close', this.#onClose);
  }

  readonly #onData = (chunk: Buffer): void => {
    if (this.#failure !== undefined) return;
    const read = this.#reader.push(chunk);
    if (!read.ok) {
      this.#fail({ kind: 'protocol', detail: read.detail });
      return;
    }
    for (const reply of read.replies) {
      const waiter = this.#waiters.shift();
      if (waiter === undefined) {
        this.#early.push(reply);
        this.onIdleTrouble?.();
      } else {
        clearTimeout(waiter.timer);
        waiter.resolve({ ok: true, reply });
      }
    }
  };

  readonly #onEnd = (): void => {
    this.#fail({ kind: 'closed', detail: 'the server closed the connection' });
  };

  readonly #onClose = (): void => {
    this.#fail({ kind: 'closed', detail: 'the connection closed' });
  };

  #fail(failure: WireFailure): void {
    if (this.#failure !== undefined) return;
    this.#failure = failure;
    this.#socket.destroy();
    this.#raw.destroy();
    for (const waiter of this.#waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.resolve({ ok: false, failure });
    }
    this.onIdleTrouble?.();
  }
}
