// Probes one onion SMTP service through Tor: hostname CONNECT with per-destination isolation,
// the SMTP greeting, EHLO and QUIT. Answers a typed result in words; never throws.
import { performance } from 'node:perf_hooks';
import type { Socket } from 'node:net';
import { connectViaTor, type TorConnectFailureKind } from './socks-connect.ts';
import type { SocksEndpoint } from './socks-endpoint.ts';
import { SmtpReplyReader, ehloCapabilities, type SmtpReply } from './smtp-reply.ts';

/** RFC 5321 §4.5.3.2.1: wait at least 5 minutes for the 220 greeting. */
export const SMTP_GREETING_TIMEOUT_MS = 300_000;
/** RFC 5321 gives no EHLO timeout; the MAIL value (5 minutes) is the nearest. */
export const SMTP_COMMAND_TIMEOUT_MS = 300_000;

export interface ProbeOptions {
  readonly proxy: SocksEndpoint;
  readonly onion: string;
  readonly port: number;
  readonly connectTimeoutMs?: number;
  readonly greetingTimeoutMs?: number;
  readonly commandTimeoutMs?: number;
  /** Our EHLO argument; an address literal names no host of ours. */
  readonly ehloName?: string;
  readonly isolation?: string;
  readonly signal?: AbortSignal;
}

export interface ProbeReachable {
  readonly ok: true;
  readonly onion: string;
  readonly port: number;
  /** Milliseconds until Tor reported the stream open. */
  readonly connectMs: number;
  /** The 220 greeting text, first line. */
  readonly greeting: string;
  /** The EHLO reply code; a server that refuses EHLO is still reachable. */
  readonly ehloCode: number;
  readonly capabilities: readonly string[];
}

export type ProbeStage = 'connect' | 'greeting' | 'ehlo';

export interface ProbeFailed {
  readonly ok: false;
  readonly onion: string;
  readonly port: number;
  readonly stage: ProbeStage;
  /** `F0`...`F7`, `01`...`08` for Tor's replies; otherwise `timeout`, `proxy-unreachable`, `smtp-554`, ... */
  readonly code: string;
  readonly kind: TorConnectFailureKind | 'smtp-timeout' | 'smtp-reply' | 'smtp-protocol' | 'smtp-closed';
  /** Tor's REP byte, when Tor refused the connection. */
  readonly rep: number | undefined;
  /** Waiting will not heal it (F4, F5, F6). */
  readonly permanent: boolean;
  readonly message: string;
  readonly connectMs: number | undefined;
}

export type ProbeResult = ProbeReachable | ProbeFailed;

export async function probeOnion(options: ProbeOptions): Promise<ProbeResult> {
  const { onion, port } = options;
  const started = performance.now();
  const connected = await connectViaTor({
    proxy: options.proxy,
    host: onion,
    port,
    ...(options.connectTimeoutMs === undefined ? {} : { timeoutMs: options.connectTimeoutMs }),
    ...(options.isolation === undefined ? {} : { isolation: options.isolation }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  if (!connected.ok) {
    return { ok: false, onion, port, stage: 'connect', code: connected.code, kind: connected.kind, rep: connected.rep, permanent: connected.permanent, message: connected.message, connectMs: undefined };
  }
  const connectMs = performance.now() - started;
  const conversation = new SmtpConversation(connected.socket, options.signal);
  try {
    const greeting = await conversation.next(options.greetingTimeoutMs ?? SMTP_GREETING_TIMEOUT_MS);
    if (!greeting.ok) return smtpFailure(options, 'greeting', greeting, connectMs);
    if (greeting.reply.code !== 220) {
      return { ok: false, onion, port, stage: 'greeting', code: `smtp-${greeting.reply.code}`, kind: 'smtp-reply', rep: undefined, permanent: false, message: `the SMTP server greeted with ${greeting.reply.code} ${greeting.reply.lines.join(' / ')}`, connectMs };
    }
    conversation.send(`EHLO ${options.ehloName ?? '[127.0.0.1]'}\r\n`);
    const ehlo = await conversation.next(options.commandTimeoutMs ?? SMTP_COMMAND_TIMEOUT_MS);
    if (!ehlo.ok) return smtpFailure(options, 'ehlo', ehlo, connectMs);
    conversation.send('QUIT\r\n');
    return {
      ok: true,
      onion,
      port,
      connectMs,
      greeting: greeting.reply.lines[0] ?? '',
      ehloCode: ehlo.reply.code,
      capabilities: ehlo.reply.code === 250 ? ehloCapabilities(ehlo.reply) : [],
    };
  } finally {
    conversation.close();
  }
}

type Next = { readonly ok: true; readonly reply: SmtpReply } | { readonly ok: false; readonly kind: 'smtp-timeout' | 'smtp-protocol' | 'smtp-closed' | 'aborted'; readonly detail: string };

function smtpFailure(options: ProbeOptions, stage: ProbeStage, failure: Next & { ok: false }, connectMs: number): ProbeFailed {
  const what = stage === 'greeting' ? 'the SMTP greeting' : 'the EHLO reply';
  const code = failure.kind === 'smtp-timeout' ? 'timeout' : failure.kind;
  return { ok: false, onion: options.onion, port: options.port, stage, code, kind: failure.kind, rep: undefined, permanent: false, message: `connected, but ${what} failed: ${failure.detail}`, connectMs };
}

/** Reads one reply at a time from a socket; the socket's 'data' listener is attached at once. */
class SmtpConversation {
  readonly #socket: Socket;
  readonly #reader = new SmtpReplyReader();
  readonly #queue: SmtpReply[] = [];
  #problem: Next | undefined;
  #waiter: (() => void) | undefined;
  readonly #signal: AbortSignal | undefined;

  constructor(socket: Socket, signal: AbortSignal | undefined) {
    this.#socket = socket;
    this.#signal = signal;
    socket.on('data', (chunk: Buffer) => {
      const read = this.#reader.push(chunk);
      if (read.ok) this.#queue.push(...read.replies);
      else this.#problem ??= { ok: false, kind: 'smtp-protocol', detail: read.detail };
      this.#wake();
    });
    socket.on('close', () => {
      this.#problem ??= { ok: false, kind: 'smtp-closed', detail: 'the server closed the connection' };
      this.#wake();
    });
    socket.on('error', (err) => {
      this.#problem ??= { ok: false, kind: 'smtp-closed', detail: `connection error: ${err.message}` };
      this.#wake();
    });
  }

  send(line: string): void {
    if (!this.#socket.destroyed) this.#socket.write(line);
  }

  async next(timeoutMs: number): Promise<Next> {
    const take = (): Next | undefined => {
      const reply = this.#queue.shift();
      if (reply !== undefined) return { ok: true, reply };
      return this.#problem;
    };
    const ready = take();
    if (ready !== undefined) return ready;
    return new Promise<Next>((resolve) => {
      const done = (result: Next): void => {
        clearTimeout(timer);
        this.#signal?.removeEventListener('abort', onAbort);
        this.#waiter = undefined;
        resolve(result);
      };
      const onAbort = (): void => {
        done({ ok: false, kind: 'aborted', detail: 'aborted' });
      };
      const timer = setTimeout(() => {
        done({ ok: false, kind: 'smtp-timeout', detail: `no reply within ${timeoutMs} ms` });
      }, timeoutMs);
      if (this.#signal?.aborted === true) {
        onAbort();
        return;
      }
      this.#signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiter = () => {
        const r = take();
        if (r !== undefined) done(r);
      };
    });
  }

  close(): void {
    this.#socket.end();
    this.#socket.destroySoon();
  }

  #wake(): void {
    this.#waiter?.();
  }
}

/** One line in words, for the CLI and logs. */
export function describeProbe(result: ProbeResult): string {
  const target = `${result.onion}:${result.port}`;
  if (result.ok) {
    const caps = result.capabilities.length > 0 ? result.capabilities.join(', ') : `none (EHLO answered ${result.ehloCode})`;
    return `${target}: reachable, connected in ${(result.connectMs / 1000).toFixed(1)} s; greeting "${result.greeting}"; capabilities: ${caps}`;
  }
  const torCode = result.rep === undefined ? '' : ` [Tor code ${result.code}]`;
  return `${target}: UNREACHABLE at ${result.stage}${torCode}: ${result.message}${result.permanent ? ' (will not heal by waiting)' : ' (temporary)'}`;
}
