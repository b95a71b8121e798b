// A minimal SMTP client connection for audits: the thin socket glue around SmtpReplyReader.
// One command in flight, a timeout on every wait, and a verb whitelist that makes it impossible
// to send DATA or BDAT: an audit through this client can never hand over a message.
// Never throws or rejects: every outcome is a value.
import { connect, type Socket } from 'node:net';
import { errorMessage } from '../errors.ts';
import { SmtpReplyReader, type SmtpReply } from '../tor/smtp-reply.ts';

export type DialogFailure = { readonly ok: false; readonly kind: 'timeout' | 'closed' | 'protocol' | 'network' | 'refused-command'; readonly detail: string };
export type DialogResult = { readonly ok: true; readonly reply: SmtpReply } | DialogFailure;

export interface TranscriptLine {
  readonly direction: 'C' | 'S';
  readonly text: string;
}

export interface SmtpDialog {
  /** Sends one command line (no CRLF) and waits for its reply. */
  command(line: string): Promise<DialogResult>;
  /** Sends QUIT (when still connected) and closes; idempotent. */
  quit(): Promise<void>;
  readonly transcript: readonly TranscriptLine[];
  readonly connected: boolean;
}

export interface DialogOptions {
  readonly host: string;
  readonly port: number;
  /** Bound on connecting and on every reply. */
  readonly timeoutMs: number;
}

/** The only verbs this client sends. DATA, BDAT, VRFY, ETRN, AUTH ... are refused locally. */
export const ALLOWED_VERBS: ReadonlySet<string> = new Set(['EHLO', 'HELO', 'MAIL', 'RCPT', 'RSET', 'NOOP', 'QUIT']);
const MAX_COMMAND_LENGTH = 512;

/** Connects and reads the greeting: the dialog and the greeting, or why not. */
export async function openSmtpDialog(options: DialogOptions): Promise<{ readonly ok: true; readonly dialog: SmtpDialog; readonly greeting: SmtpReply } | DialogFailure> {
  const dialog = new Dialog(options);
  const greeting = await dialog.start();
  if (!greeting.ok) return greeting;
  return { ok: true, dialog, greeting: greeting.reply };
}

type Waiter = (result: DialogResult) => void;

class Dialog implements SmtpDialog {
  readonly transcript: TranscriptLine[] = [];
  readonly #options: DialogOptions;
  readonly #reader = new SmtpReplyReader();
  readonly #replies: SmtpReply[] = [];
  #socket: Socket | undefined;
  #ended: DialogFailure | undefined;
  #waiter: Waiter | undefined;
  #busy = false;

  constructor(options: DialogOptions) {
    this.#options = options;
  }

  get connected(): boolean {
    return this.#ended === undefined;
  }

  start(): Promise<DialogResult> {
    const socket = connect({ host: this.#options.host, port: this.#options.port });
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.#receive(chunk);
    });
    socket.on('error', (err) => {
      this.#end('network', errorMessage(err));
    });
    socket.on('close', () => {
      this.#end('closed', 'the server closed the connection');
    });
    return this.#next();
  }

  async command(line: string): Promise<DialogResult> {
    const verb = (line.split(' ')[0] ?? '').toUpperCase();
    if (!ALLOWED_VERBS.has(verb)) return { ok: false, kind: 'refused-command', detail: `${verb} is never sent by this client` };
    if (/[\r\n\0]/.test(line) || line.length > MAX_COMMAND_LENGTH) return { ok: false, kind: 'refused-command', detail: 'command contains CR, LF or NUL, or is too long' };
    if (this.#busy) return { ok: false, kind: 'refused-command', detail: 'a command is already in flight' };
    if (this.#ended !== undefined) return this.#ended;
    if (this.#replies.length > 0) {
      const detail = 'the server sent a reply nobody asked for';
      this.#end('protocol', detail);
      return { ok: false, kind: 'protocol', detail };
    }
    this.#busy = true;
    try {
      this.transcript.push({ direction: 'C', text: line });
      this.#socket?.write(`${line}\r\n`);
      return await this.#next();
    } finally {
      this.#busy = false;
    }
  }

  async quit(): Promise<void> {
    if (this.#ended === undefined && !this.#busy) await this.command('QUIT');
    this.#end('closed', 'closed by us');
  }

  #next(): Promise<DialogResult> {
    const queued = this.#replies.shift();
    if (queued !== undefined) return Promise.resolve({ ok: true, reply: queued });
    if (this.#ended !== undefined) return Promise.resolve(this.#ended);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiter = undefined;
        resolve({ ok: false, kind: 'timeout', detail: `no reply within ${this.#options.timeoutMs} ms` });
        this.#end('timeout', `no reply within ${this.#options.timeoutMs} ms`);
      }, this.#options.timeoutMs);
      this.#waiter = (result) => {
        clearTimeout(timer);
        this.#waiter = undefined;
        resolve(result);
      };
    });
  }

  #receive(chunk: Buffer): void {
    const fed = this.#reader.push(chunk);
    if (!fed.ok) {
      this.#end('protocol', `malformed reply: ${fed.detail}`);
      return;
    }
    for (const reply of fed.replies) {
      for (const text of reply.lines) this.transcript.push({ direction: 'S', text: `${reply.code} ${text}` });
      const waiter = this.#waiter;
      if (waiter !== undefined) waiter({ ok: true, reply });
      else this.#replies.push(reply);
    }
  }

  #end(kind: DialogFailure['kind'], detail: string): void {
    if (this.#ended !== undefined) return;
    this.#ended = { ok: false, kind, detail };
    this.#socket?.destroy();
    this.#waiter?.(this.#ended);
  }
}
