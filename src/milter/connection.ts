// Socket glue for one MTA connection: frames in, one command in flight, replies out with
// backpressure. Any protocol error is logged with its code and closes this connection only.
import type { Socket } from 'node:net';
import { ErrorCode, OnionMxError, ProtocolError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { MilterSession } from './session.ts';
import { commandName, decodeCommand } from './wire/commands.ts';
import { FrameDecoder, type Frame } from './wire/frame-decoder.ts';

export interface ConnectionOptions {
  readonly maxFrameBytes: number;
  readonly idleTimeoutMs: number;
  readonly onError?: ((kind: 'protocol' | 'session') => void) | undefined;
}

/** Frames buffered before reading pauses (a pipelining MTA sends many NR headers at once). */
const MAX_QUEUED_FRAMES = 256;

export class MilterConnection {
  readonly #socket: Socket;
  readonly #session: MilterSession;
  readonly #onError: ((kind: 'protocol' | 'session') => void) | undefined;
  readonly #frames: FrameDecoder;
  readonly #queue: (Frame | undefined)[] = [];
  #head = 0;
  #busy = false;
  #ended = false;
  #writeBlocked = false;
  #draining = false;
  readonly done: Promise<void>;

  /** This connection's logger (the session's: `conn`, and `qid` inside a transaction). */
  get log(): Logger {
    return this.#session.log;
  }

  /** `makeSession` receives this connection's packet sink. */
  constructor(socket: Socket, makeSession: (send: (packet: Buffer) => void) => MilterSession, o: ConnectionOptions) {
    this.#socket = socket;
    this.#onError = o.onError;
    const session = makeSession((packet) => {
      this.#send(packet);
    });
    this.#session = session;
    this.#frames = new FrameDecoder(o.maxFrameBytes);
    socket.setNoDelay(true);
    socket.setTimeout(o.idleTimeoutMs);
    socket.on('data', (chunk: Buffer) => {
      this.#onData(chunk);
    });
    socket.on('end', () => {
      this.#ended = true;
      this.#maybeFinish();
    });
    socket.on('timeout', () => {
      if (this.#busy) return; // a hook is running; hooks have their own deadlines
      this.log.info({ code: ErrorCode.MilterIdleTimeout, idleTimeoutMs: o.idleTimeoutMs }, 'milter connection idle; closing');
      socket.destroy();
    });
    // An error listener for the socket's whole life: a late EPIPE must never crash the process.
    socket.on('error', (err) => {
      this.log.debug({ err }, 'milter socket error');
    });
    this.done = new Promise((resolve) => {
      socket.once('close', () => {
        void session.close('connection closed').then(resolve, resolve);
      });
    });
  }

  #send(packet: Buffer): void {
    if (this.#socket.destroyed || this.#socket.writableEnded) return;
    if (!this.#socket.write(packet) && !this.#writeBlocked) {
      this.#writeBlocked = true;
      this.#socket.pause();
      this.#socket.once('drain', () => {
        this.#writeBlocked = false;
        this.#resumeIfIdle();
      });
    }
  }

  /** Graceful shutdown: close at the next session boundary (now, if the session is at one). */
  drain(): void {
    this.#draining = true;
    if (this.#atBoundary()) this.#socket.end();
  }

  destroy(): void {
    this.#socket.destroy();
  }

  #atBoundary(): boolean {
    if (this.#busy || this.#head < this.#queue.length) return false;
    const s = this.#session;
    return s.state === 'idle' || s.state === 'closed' || (s.state === 'negotiating' && !this.#frames.hasPartial);
  }

  #onData(chunk: Buffer): void {
    let frames: Frame[];
    try {
      frames = this.#frames.push(chunk);
    } catch (err) {
      this.#protocolError(err);
      return;
    }
    for (const f of frames) this.#queue.push(f);
    if (this.#queue.length - this.#head > MAX_QUEUED_FRAMES) this.#socket.pause();
    if (!this.#busy) void this.#pump();
  }

  async #pump(): Promise<void> {
    this.#busy = true;
    while (this.#head < this.#queue.length && !this.#socket.destroyed) {
      const frame = this.#queue[this.#head];
      this.#queue[this.#head++] = undefined;
      if (frame === undefined) continue;
      try {
        await this.#session.handle(decodeCommand(frame.code, frame.payload));
      } catch (err) {
        this.#protocolError(err, frame.code);
        break;
      }
      if (this.#session.state === 'closed' || (this.#draining && this.#session.state === 'idle')) {
        this.#socket.end();
        break;
      }
    }
    this.#queue.length = 0;
    this.#head = 0;
    this.#busy = false;
    this.#resumeIfIdle();
    this.#maybeFinish();
  }

  #resumeIfIdle(): void {
    if (!this.#busy && !this.#writeBlocked && !this.#socket.destroyed) this.#socket.resume();
  }

  #maybeFinish(): void {
    if (!this.#ended || this.#busy) return;
    if (this.#frames.hasPartial) {
      this.log.warn({ code: ErrorCode.MilterTruncated }, 'MTA closed the connection inside a packet');
    }
    // After QUIT our side is already ended; a second end() would only build an error object.
    if (!this.#socket.writableEnded) this.#socket.end();
  }

  #protocolError(err: unknown, code?: number): void {
    const command = code === undefined ? undefined : commandName(code);
    this.#onError?.(err instanceof ProtocolError ? 'protocol' : 'session');
    if (err instanceof ProtocolError) {
      this.log.warn({ code: err.code, command, reason: err.message }, 'milter protocol error; closing connection');
    } else if (err instanceof OnionMxError) {
      this.log.error({ code: err.code, command, err }, 'milter session failed; closing connection');
    } else {
      this.log.error({ command, err }, 'unexpected error in milter session; closing connection');
    }
    this.#socket.destroy();
  }
}
