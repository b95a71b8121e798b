// Real Tor (Debian's `tor`) for tests, safely offline: it runs only inside a fresh network
// namespace that has nothing but loopback, so it can never reach the directory authorities.
// Commands that must talk to it run in the same namespace through `lab.exec(argv)`.
//
//   const lab = await startTorLab({ socksTimeoutS: 5 });
//   lab.socks                       // '127.0.0.1:9050' (inside the namespace)
//   await lab.exec([process.execPath, script, ...args])   // -> { status, stdout, stderr }
//   await lab.close()               // stops tor, deletes the namespace and the temp dir
//
// torrc: `SocksPort 127.0.0.1:9050 ExtendedErrors`, a short `SocksTimeout`, a temp DataDirectory,
// `RunAsDaemon 0`. (`DisableNetwork 1` is no substitute: it closes the SocksPort too.)
import type { ChildProcess } from 'node:child_process';
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { stopChild } from './stop-child.ts';
import { createLoopbackNetns, type NetnsRun } from './loopback-netns.ts';

export interface TorLab {
  readonly netns: string;
  readonly socks: string;
  readonly dir: string;
  /** Tor's stdout so far (notice level), for failure messages. */
  log(): string;
  exec(argv: readonly string[], options?: { readonly timeoutMs?: number }): Promise<NetnsRun>;
  close(): Promise<void>;
}

const SOCKS_PORT = 9050;

export async function startTorLab(options: { readonly socksTimeoutS?: number; readonly startTimeoutMs?: number } = {}): Promise<TorLab> {
  const ns = await createLoopbackNetns('tor');
  const dir = ns.dir;
  let tor: ChildProcess | undefined;
  let output = '';
  const close = async (): Promise<void> => {
    if (tor !== undefined) await stopChild(tor, 3000);
    await ns.remove();
  };
  try {
    const data = join(dir, 'data');
    mkdirSync(data, { mode: 0o700 });
    const torrc = join(dir, 'torrc');
    writeFileSync(
      torrc,
      [
        `SocksPort 127.0.0.1:${SOCKS_PORT} ExtendedErrors`,
        `SocksTimeout ${options.socksTimeoutS ?? 5}`,
        `DataDirectory ${data}`,
        'RunAsDaemon 0',
        'ClientOnly 1',
        'Log notice stdout',
        '',
      ].join('\n'),
    );
    const child = ns.spawn(['tor', '-f', torrc, '--defaults-torrc', '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'] });
    tor = child;
    child.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`tor did not open its SocksPort within ${options.startTimeoutMs ?? 30_000} ms:\n${output}`));
      }, options.startTimeoutMs ?? 30_000);
      const onData = (chunk: Buffer): void => {
        output += chunk.toString();
        if (/Opened Socks listener/.test(output)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`tor exited (${code}) before opening its SocksPort:\n${output}`));
      });
    });
    return {
      netns: ns.name,
      socks: `127.0.0.1:${SOCKS_PORT}`,
      dir,
      log: () => output,
      exec: (argv, execOptions) => ns.run(argv, execOptions),
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
