// A tiny lock-step SMTP client for tests: one command, one reply, every reply kept, so a test
// can assert the answer to each RCPT on its own. No TLS, no AUTH, no pipelining.
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';

export interface SmtpReply {
  readonly code: number;
  /** Reply lines without the `ddd-`/`ddd ` prefix. */
  readonly lines: readonly string[];
  /** The whole reply, lines joined with `\n`, prefixes kept (for error messages). */
  readonly raw: string;
}

export interface RecipientResult {
  readonly address: string;
  readonly reply: SmtpReply;
}

export interface TransactionResult {
  readonly mail: SmtpReply;
  readonly rcpts: readonly RecipientResult[];
  /** The reply to the final `.`; absent when no recipient was accepted (the client sent RSET instead). */
  readonly data?: SmtpReply;
}

export interface Envelope {
  readonly from: string;
  readonly to: readonly string[];
  /** The message; LF or CRLF line ends; dot-stuffing is done here. */
  readonly message: string;
}

export interface SmtpSession {
  readonly greeting: SmtpReply;
  /** Sends one command line and returns its reply. */
  command(line: string): Promise<SmtpReply>;
  ehlo(name?: string): Promise<SmtpReply>;
  /**
   * After DATA's 354: writes the data section (dot-stuffed, ending with the `.` line) chunk by
   * chunk, each once the socket drained, so a large message is never held whole; returns the
   * reply to the final dot.
   */
  streamData(chunks: Iterable<string>): Promise<SmtpReply>;
  /** MAIL, every RCPT, then DATA + message if any RCPT got 2xx, else RSET. */
  send(envelope: Envelope): Promise<TransactionResult>;
  quit(): Promise<void>;
  /** Destroys the socket without QUIT. */
  destroy(): void;
}

const DEFAULT_TIMEOUT_MS = 30_000;

export async function openSmtp(port: number, host = '127.0.0.1', timeoutMs = DEFAULT_TIMEOUT_MS): Promise<SmtpSession> {
  const socket = connect({ port, host });
  const reader = new ReplyReader(socket, timeoutMs);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const greeting = await reader.next();
  if (greeting.code !== 220) {
    socket.destroy();
    throw new Error(`SMTP :${port}: unexpected greeting ${greeting.raw}`);
  }

  const command = (line: string): Promise<SmtpReply> => {
    socket.write(`${line}\r\n`);
    return reader.next();
  };
  const expect = async (line: string, okClass: number): Promise<SmtpReply> => {
    const reply = await command(line);
    if (Math.floor(reply.code / 100) !== okClass) throw new Error(`SMTP :${port}: ${line} -> ${reply.raw}`);
    return reply;
  };

  return {
    greeting,
    command,
    ehlo: (name = 'client.test') => expect(`EHLO ${name}`, 2),
    async streamData(chunks) {
      for (const chunk of chunks) if (!socket.write(chunk)) await once(socket, 'drain');
      return reader.next();
    },
    async send(envelope) {
      const mail = await command(`MAIL FROM:<${envelope.from}>`);
      if (mail.code !== 250) throw new Error(`SMTP :${port}: MAIL FROM -> ${mail.raw}`);
      const rcpts: RecipientResult[] = [];
      for (const address of envelope.to) rcpts.push({ address, reply: await command(`RCPT TO:<${address}>`) });
      if (!rcpts.some((r) => r.reply.code >= 200 && r.reply.code < 300)) {
        await expect('RSET', 2);
        return { mail, rcpts };
      }
      await expect('DATA', 3);
      socket.write(dataSection(envelope.message));
      return { mail, rcpts, data: await reader.next() };
    },
    async quit() {
      try {
        await command('QUIT');
      } finally {
        socket.destroy();
      }
    },
    destroy: () => socket.destroy(),
  };
}

/** Connects, EHLOs, sends one transaction and QUITs. */
export async function sendSmtp(port: number, envelope: Envelope): Promise<TransactionResult> {
  const session = await openSmtp(port);
  try {
    await session.ehlo();
    return await session.send(envelope);
  } finally {
    await session.quit().catch(() => undefined);
  }
}

/** CRLF line ends, dot-stuffing, and the terminating `.` line. */
export function dataSection(message: string): string {
  const lines = message.replace(/\r?\n$/, '').split(/\r?\n/);
  return `${lines.map((l) => (l.startsWith('.') ? `.${l}` : l)).join('\r\n')}\r\n.\r\n`;
}

/** Collects multi-line replies from the socket and hands them out in order. */
class ReplyReader {
  readonly #timeoutMs: number;
  #buffer = '';
  #pending: string[] = [];
  readonly #replies: SmtpReply[] = [];
  readonly #waiters: { resolve: (r: SmtpReply) => void; reject: (e: Error) => void }[] = [];
  #failure: Error | undefined;

  constructor(socket: Socket, timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.#onData(chunk);
    });
    socket.on('error', (err) => {
      this.#fail(err);
    });
    socket.on('close', () => {
      this.#fail(new Error('SMTP connection closed'));
    });
  }

  next(): Promise<SmtpReply> {
    const ready = this.#replies.shift();
    if (ready !== undefined) return Promise.resolve(ready);
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`SMTP: no reply within ${this.#timeoutMs} ms`));
      }, this.#timeoutMs);
      this.#waiters.push({
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
  }

  #onData(chunk: string): void {
    this.#buffer += chunk;
    let nl = this.#buffer.indexOf('\n');
    while (nl !== -1) {
      const line = this.#buffer.slice(0, nl).replace(/\r$/, '');
      this.#buffer = this.#buffer.slice(nl + 1);
      this.#pending.push(line);
      if (line.length < 4 || line[3] !== '-') this.#complete();
      nl = this.#buffer.indexOf('\n');
    }
  }

  #complete(): void {
    const lines = this.#pending;
    this.#pending = [];
    const last = lines[lines.length - 1] ?? '';
    const reply: SmtpReply = {
      code: Number.parseInt(last.slice(0, 3), 10),
      lines: lines.map((l) => l.slice(4)),
      raw: lines.join('\n'),
    };
    const waiter = this.#waiters.shift();
    if (waiter === undefined) this.#replies.push(reply);
    else waiter.resolve(reply);
  }

  #fail(err: Error): void {
    this.#failure ??= err;
    for (const waiter of this.#waiters.splice(0)) waiter.reject(this.#failure);
  }
}
