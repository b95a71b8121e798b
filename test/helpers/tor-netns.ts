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
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, mkdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TorLab {
  readonly netns: string;
  readonly socks: string;
  readonly dir: string;
  /** Tor's stdout so far (notice level), for failure messages. */
  log(): string;
  exec(argv: readonly string[], options?: { readonly timeoutMs?: number }): Promise<{ status: number | null; stdout: string; stderr: string }>;
  close(): Promise<void>;
}

const SOCKS_PORT = 9050;

export async function startTorLab(options: { readonly socksTimeoutS?: number; readonly startTimeoutMs?: number } = {}): Promise<TorLab> {
  const dir = mkdtempSync(join(tmpdir(), 'onionmx-torlab-'));
  const netns = `onionmx-tor-${process.pid}-${randomBytes(3).toString('hex')}`;
  let tor: ChildProcess | undefined;
  let output = '';
  let netnsCreated = false;
  const close = async (): Promise<void> => {
    if (tor !== undefined) await stop(tor);
    if (netnsCreated) {
      const { stdout } = await run('ip', ['netns', 'pids', netns]).catch(() => ({ stdout: '' }));
      for (const pid of stdout.split(/\s+/).filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // gone already
        }
      }
      await run('ip', ['netns', 'delete', netns]).catch(() => undefined);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await run('ip', ['netns', 'add', netns]);
    netnsCreated = true;
    await run('ip', ['netns', 'exec', netns, 'ip', 'link', 'set', 'lo', 'up']);
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
    const child = spawn('ip', ['netns', 'exec', netns, 'tor', '-f', torrc, '--defaults-torrc', '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'] });
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
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`tor exited (${code}) before opening its SocksPort:\n${output}`));
      });
    });
    return {
      netns,
      socks: `127.0.0.1:${SOCKS_PORT}`,
      dir,
      log: () => output,
      exec: (argv, execOptions = {}) =>
        new Promise((resolve, reject) => {
          const c = spawn('ip', ['netns', 'exec', netns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
          let stdout = '';
          let stderr = '';
          c.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
          c.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
          const timer = setTimeout(() => {
            c.kill('SIGKILL');
            reject(new Error(`${argv.join(' ')} did not finish within ${execOptions.timeoutMs ?? 60_000} ms\n${stdout}\n${stderr}`));
          }, execOptions.timeoutMs ?? 60_000);
          c.on('error', reject);
          c.on('close', (status) => {
            clearTimeout(timer);
            resolve({ status, stdout, stderr });
          });
        }),
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

function run(cmd: string, args: readonly string[]): Promise<{ stdout: string }> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stderr}`));
      else resolve({ stdout });
    });
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => { resolve(); }));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}
