// Postfix's own `smtp-sink` as the final destination of the Postfix benchmark: a separate C process
// (event-driven, one thread) so that the receiving end is neither the bottleneck nor sharing our
// event loop. With `-c` it prints `sess=N quit=N mesg=N` followed by a carriage return each time a
// session ends, a QUIT arrives or a message's final "." is received; `mesg` is what we count.
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';

/** Splits smtp-sink's `-c` output into counter updates; fed arbitrary chunks of its stdout. */
export class SinkCounterParser {
  #pending = '';
  #messages = 0;

  /** Returns the message count after this chunk (the last complete update wins). */
  feed(chunk: string): number {
    this.#pending += chunk;
    const parts = this.#pending.split(/[\r\n]/);
    this.#pending = parts.pop() ?? '';
    for (const part of parts) {
      const match = /\bmesg=(\d+)\b/.exec(part);
      if (match?.[1] !== undefined) this.#messages = Number(match[1]);
    }
    return this.#messages;
  }

  get messages(): number {
    return this.#messages;
  }
}

export interface SmtpSink {
  readonly port: number;
  readonly pid: number;
  /** Messages received since the sink started. */
  readonly messages: number;
  /** Resolves with hrtime (ns) of the counter update that reached `total`; rejects after the bound. */
  waitForMessages(total: number, timeoutMs: number): Promise<bigint>;
  stop(): Promise<void>;
}

/**
 * Starts `smtp-sink -c -u <user> 127.0.0.1:<port> <backlog>` and resolves once it accepts
 * connections (its first counter line is printed only on traffic, so readiness is probed by
 * connecting). The caller picks the port; a bind failure rejects. `track` sees the child process
 * at once, for the caller's kill-on-exit bookkeeping. `dumpFile`: every transaction (envelope as
 * X-Rcpt-Args etc., then the message) is appended there (`-D`); `user` must be able to write it.
 */
export async function startSmtpSink(
  program: string,
  port: number,
  user: string,
  track: (child: ChildProcess) => void = () => undefined,
  dumpFile?: string,
): Promise<SmtpSink> {
  const dump = dumpFile === undefined ? [] : ['-D', dumpFile];
  const child = spawn(program, ['-c', '-u', user, ...dump, `127.0.0.1:${port}`, '256'], { stdio: ['ignore', 'pipe', 'pipe'] });
  track(child);
  const parser = new SinkCounterParser();
  let stderr = '';
  let waiter: { total: number; resolve: (at: bigint) => void } | undefined;
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    const count = parser.feed(chunk);
    if (waiter !== undefined && count >= waiter.total) {
      const { resolve } = waiter;
      waiter = undefined;
      resolve(process.hrtime.bigint());
    }
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => {
    resolve();
  }));
  await waitUntilListening(child, port, () => stderr);
  if (child.pid === undefined) throw new Error('smtp-sink has no pid');
  const pid = child.pid;
  return {
    port,
    pid,
    get messages() {
      return parser.messages;
    },
    waitForMessages(total, timeoutMs) {
      if (parser.messages >= total) return Promise.resolve(process.hrtime.bigint());
      return new Promise<bigint>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiter = undefined;
          reject(new Error(`smtp-sink: ${parser.messages} messages after ${timeoutMs} ms, expected ${total}`));
        }, timeoutMs);
        waiter = {
          total,
          resolve: (at) => {
            clearTimeout(timer);
            resolve(at);
          },
        };
      });
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

async function waitUntilListening(child: ChildProcess, port: number, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`smtp-sink exited at start: ${stderr().trim()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => {
        resolve(false);
      });
    });
    if (ok) return;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`smtp-sink not listening on 127.0.0.1:${port} after 10 s: ${stderr().trim()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
