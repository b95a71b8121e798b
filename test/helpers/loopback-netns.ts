// A network namespace with nothing but loopback (brought up), and a temp dir that goes with it: the
// one way the test helpers create, enter and tear down a place for daemons that reach out (tor,
// unbound, MTAs resolving through libc). Inside, no packet can leave the machine and the machine's
// resolver is unreachable. Used by netns.ts (workers), tor-netns.ts (real Tor) and zone.ts (nsd + unbound).
//
//   const ns = await createLoopbackNetns('dns');   // `onionmx-dns-<pid>-<random>`, ns.dir a fresh temp dir
//   ns.spawn(['unbound', '-d'], { stdio: 'ignore' }) // a process inside (`ip netns exec`)
//   await ns.run([process.execPath, script])        // -> { status, stdout, stderr }
//   await ns.remove()                               // kills what is left inside, deletes it and the dir
//
// If the test process ends without remove() (a failed start, an exception, SIGINT/SIGTERM/SIGHUP),
// process-end.ts does the same synchronously, so a crashed run leaves no namespace behind.
import { execFile, execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { atProcessEnd } from './process-end.ts';

const execFileAsync = promisify(execFile);

export interface NetnsRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface LoopbackNetns {
  /** For `ip netns exec NAME`. */
  readonly name: string;
  /** A temp dir of the namespace's owner, removed with it. */
  readonly dir: string;
  /** The command prefix that runs a program inside: `ip netns exec NAME`. */
  readonly wrapper: readonly string[];
  /** Starts `argv` inside the namespace. */
  spawn(argv: readonly string[], options: SpawnOptions): ChildProcess;
  /** Runs `argv` inside to its end (killed, and rejected, after `timeoutMs`, default 60 s). */
  run(argv: readonly string[], options?: { readonly timeoutMs?: number }): Promise<NetnsRun>;
  /** Kills every process still inside, deletes the namespace and the dir. Idempotent. */
  remove(): Promise<void>;
}

export async function createLoopbackNetns(label: string): Promise<LoopbackNetns> {
  const name = `onionmx-${label}-${String(process.pid)}-${randomBytes(3).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), `onionmx-${label}-`));
  const forget = atProcessEnd(() => {
    for (const pid of pidsInSync(name)) kill(pid);
    try {
      execFileSync('ip', ['netns', 'delete', name], { stdio: 'ignore' });
    } catch {
      // never created, or gone
    }
    rmSync(dir, { recursive: true, force: true });
  });
  let removing: Promise<void> | undefined;
  const remove = (): Promise<void> => {
    removing ??= (async () => {
      const pids = await execFileAsync('ip', ['netns', 'pids', name]).then((r) => r.stdout.split(/\s+/).filter(Boolean), () => []);
      for (const pid of pids) kill(pid);
      await execFileAsync('ip', ['netns', 'delete', name]).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
      forget();
    })();
    return removing;
  };
  const wrapper = ['ip', 'netns', 'exec', name] as const;
  const spawnIn = (argv: readonly string[], options: SpawnOptions): ChildProcess => spawn(wrapper[0], [...wrapper.slice(1), ...argv], options);
  try {
    await execFileAsync('ip', ['netns', 'add', name]);
    await execFileAsync('ip', ['netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up']);
  } catch (err) {
    await remove();
    throw err;
  }
  return {
    name,
    dir,
    wrapper,
    spawn: spawnIn,
    run: (argv, options = {}) =>
      new Promise((resolve, reject) => {
        const timeoutMs = options.timeoutMs ?? 60_000;
        const child = spawnIn(argv, { stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
        child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`${argv.join(' ')} did not finish within ${timeoutMs} ms\n${stdout}\n${stderr}`));
        }, timeoutMs);
        child.on('error', reject);
        child.on('close', (status) => {
          clearTimeout(timer);
          resolve({ status, stdout, stderr });
        });
      }),
    remove,
  };
}

function pidsInSync(name: string): string[] {
  try {
    return execFileSync('ip', ['netns', 'pids', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split(/\s+/).filter(Boolean);
  } catch {
    return [];
  }
}

function kill(pid: string): void {
  try {
    process.kill(Number(pid), 'SIGKILL');
  } catch {
    // gone already
  }
}
