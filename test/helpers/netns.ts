// Runs a Node worker script inside a fresh network namespace that has nothing but loopback, and in
// its own mount namespace where /etc/resolv.conf is a file of ours. For MTAs that resolve through
// the libc resolver (always port 53, always /etc/resolv.conf): in there, their resolver is a test
// server and no packet can leave the machine.
//
// Everything the MTA talks to over TCP/UDP must live in the namespace too, so the worker hosts those
// fixtures and the test drives it by RPC over Node's IPC channel (which survives `ip netns exec`,
// `unshare` and `exec`: it is an inherited fd named by NODE_CHANNEL_FD). Worker side: netns-worker.ts.
//
//   const lab = await startNetnsWorker(workerPath, { resolvConf: 'nameserver 127.0.0.1\n' });
//   const result = await lab.call('send', envelope);
//   await lab.close();   // asks the worker to clean up, then kills anything left in the namespace
import type { ChildProcess } from 'node:child_process';
import { rmdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createLoopbackNetns } from './loopback-netns.ts';
import { atProcessEnd } from './process-end.ts';

export interface NetnsWorkerOptions {
  /** Contents of /etc/resolv.conf as seen inside. */
  readonly resolvConf: string;
  /** Other files to show inside, by absolute path (the path must exist outside): path -> contents. */
  readonly files?: Readonly<Record<string, string>>;
  /**
   * Mount an empty tmpfs (mode 0755) over /tmp inside: the worker's temp files vanish with the
   * namespace, and no path under /tmp is world-writable (Sendmail refuses sockets and files there).
   */
  readonly privateTmp?: boolean;
  /** Short label for the namespace name. */
  readonly label: string;
  /** Bound on the worker's own clean-up at close(). */
  readonly closeTimeoutMs?: number;
}

export interface NetnsWorker {
  readonly netns: string;
  /** Everything the worker wrote to stdout/stderr so far (for failure messages). */
  output(): string;
  call<T>(method: string, ...args: readonly unknown[]): Promise<T>;
  close(): Promise<void>;
}

interface RpcReply {
  readonly id: number;
  readonly ok: boolean;
  readonly value?: unknown;
  readonly error?: string;
}

export async function startNetnsWorker(workerScript: string, options: NetnsWorkerOptions): Promise<NetnsWorker> {
  const ns = await createLoopbackNetns(options.label);
  const netns = ns.name;
  // Never recursive: should a bind mount of the checkout still be there, rmdir fails harmlessly.
  const removeHoldDir = (): void => {
    try {
      rmdirSync(holdDir(netns));
    } catch {
      // absent (no privateTmp) or busy
    }
  };
  // Registered after the namespace's own last-resort clean-up, so it runs once nothing is inside.
  const forgetHoldDir = atProcessEnd(removeHoldDir);
  const removeNamespace = async (): Promise<void> => {
    await ns.remove();
    removeHoldDir();
    forgetHoldDir();
  };
  let child: ChildProcess;
  try {
    const mounts: [string, string][] = [];
    for (const [i, [target, contents]] of Object.entries({ ...options.files, '/etc/resolv.conf': options.resolvConf }).entries()) {
      const source = join(ns.dir, `file-${String(i)}`);
      writeFileSync(source, contents);
      mounts.push([source, target]);
    }
    // `mount --bind SOURCE TARGET` for each file, then exec the worker: "$@" is node and the script.
    const script = [
      ...mounts.map(([source, target]) => `mount --bind '${source}' '${target}'`),
      ...(options.privateTmp === true ? privateTmpCommands(workerScript, netns) : []),
      'exec "$@"',
    ].join(' && ');
    // `unshare --mount` gives a private mount namespace: the bind mount is invisible outside.
    child = ns.spawn(['unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', script, 'netns-worker', process.execPath, workerScript], {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
  } catch (err) {
    await removeNamespace();
    throw err;
  }
  const worker = child;
  let output = '';
  worker.stdout?.setEncoding('utf8').on('data', (s: string) => (output += s));
  worker.stderr?.setEncoding('utf8').on('data', (s: string) => (output += s));

  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let exited = false;
  const exitPromise = new Promise<void>((resolve) => {
    worker.once('exit', (code, signal) => {
      exited = true;
      for (const p of pending.values()) p.reject(new Error(`netns worker exited (${String(code ?? signal)}):\n${output}`));
      pending.clear();
      resolve();
    });
  });
  worker.on('message', (raw: unknown) => {
    const reply = raw as RpcReply;
    const p = pending.get(reply.id);
    if (p === undefined) return;
    pending.delete(reply.id);
    if (reply.ok) p.resolve(reply.value);
    else p.reject(new Error(reply.error ?? 'worker call failed'));
  });

  const call = <T>(method: string, ...args: readonly unknown[]): Promise<T> => {
    if (exited) return Promise.reject(new Error(`netns worker has exited:\n${output}`));
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      worker.send({ id, method, args });
    });
  };

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      if (!exited) {
        const bound = new Promise<void>((resolve) => setTimeout(resolve, options.closeTimeoutMs ?? 10_000).unref());
        await Promise.race([call('close').catch(() => undefined), bound]);
        worker.kill('SIGKILL');
        await exitPromise;
      }
      await removeNamespace();
    })();
    return closing;
  };

  try {
    await Promise.race([
      call('ready'),
      exitPromise.then(() => {
        throw new Error(`netns worker exited before it was ready:\n${output}`);
      }),
    ]);
  } catch (err) {
    await close();
    throw err;
  }
  return { netns, output: () => output, call, close };
}

function holdDir(netns: string): string {
  return `/run/${netns}-hold`;
}

/**
 * An empty tmpfs over /tmp, keeping the checkout visible when it lives under /tmp itself (CI may
 * clone there): the checkout is bind-mounted aside first, then back onto its own path inside the
 * new tmpfs, whose directories are 0755 as Sendmail wants.
 */
function privateTmpCommands(workerScript: string, netns: string): string[] {
  const tmpfs = 'mount -t tmpfs -o mode=0755,size=256m onionmx-tmp /tmp';
  const root = resolve(dirname(workerScript), '..', '..', '..');
  if (root !== '/tmp' && !root.startsWith('/tmp/')) return [tmpfs];
  const hold = holdDir(netns);
  return [`mkdir -p '${hold}'`, `mount --bind '${root}' '${hold}'`, tmpfs, `mkdir -p '${root}'`, `mount --bind '${hold}' '${root}'`];
}
