// nsd, the authoritative DNS server, as the test helpers run it (e2e-nsd.ts on the test's own
// loopback, zone.ts inside a loopback-only namespace): zone files and nsd.conf in one temp dir,
// 127.0.0.1 on a given port, no recursion and no transfers or NOTIFY configured, so it never
// reaches out. The caller waits for it to answer in its own way (it knows where it can ask from).
//
//   writeFileSync(file, nsdZoneText('onionmx.example', ['_onion-mx._tcp IN SRV 0 5 25 x.onion.']));
//   const nsd = spawnNsd(dir, 5353, [{ origin: 'onionmx.example', file }], { wrapper: ['ip', 'netns', 'exec', name] });
//   await nsd.stop();
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { atProcessEnd } from './process-end.ts';
import { requireProgram } from './system.ts';

export interface NsdZoneFile {
  readonly origin: string;
  /** Need not exist: nsd then answers SERVFAIL for every name in the zone. */
  readonly file: string;
}

export interface NsdProcess {
  readonly child: ChildProcess;
  /** The tail of nsd's log (or of its stdout), for failure messages. */
  log(): string;
  /** SIGTERM to its process group, SIGKILL after 3 s; then kills server children that outlived it. */
  stop(): Promise<void>;
}

/** A zone file's text: SOA (MINIMUM 60), NS and the name server's A record, then `records` (relative to the origin). */
export function nsdZoneText(origin: string, records: readonly string[]): string {
  return [
    `$ORIGIN ${origin}.`,
    '$TTL 300',
    `@ IN SOA ns.${origin}. hostmaster.${origin}. 1 3600 600 86400 60`,
    `@ IN NS ns.${origin}.`,
    'ns IN A 127.0.0.1',
    ...records,
    '',
  ].join('\n');
}

/**
 * Writes `dir/nsd.conf` and starts `nsd -d` (through `wrapper`, e.g. `ip netns exec NAME`) in its
 * own process group: nsd forks server children, and stop() (or, should the test process end
 * first, process-end.ts) signals them all.
 */
export function spawnNsd(dir: string, port: number, zones: readonly NsdZoneFile[], options: { readonly wrapper?: readonly string[] } = {}): NsdProcess {
  const conf = join(dir, 'nsd.conf');
  writeFileSync(conf, nsdConf(dir, port, zones));
  const nsd = requireProgram('nsd', 'spawnNsd');
  const [command, ...args] = [...(options.wrapper ?? []), nsd, '-d', '-c', conf];
  const out = openSync(join(dir, 'nsd.stdout'), 'a');
  const child = spawn(command, args, { stdio: ['ignore', out, out], detached: true });
  closeSync(out);
  child.on('error', () => undefined);
  const pid = child.pid;
  const forget = atProcessEnd(() => {
    if (pid !== undefined) signalGroup(pid, 'SIGKILL');
  });
  const stop = async (): Promise<void> => {
    if (pid !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      signalGroup(pid, 'SIGTERM');
      const timer = setTimeout(() => {
        signalGroup(pid, 'SIGKILL');
      }, 3000);
      await exited;
      clearTimeout(timer);
    }
    // Server children that outlived the parent.
    if (pid !== undefined) signalGroup(pid, 'SIGKILL');
    forget();
  };
  return { child, log: () => readLog(dir), stop };
}

function nsdConf(dir: string, port: number, zones: readonly NsdZoneFile[]): string {
  return [
    'server:',
    '  ip-address: 127.0.0.1',
    `  port: ${port}`,
    '  server-count: 1',
    '  username: ""',
    '  database: ""',
    `  zonelistfile: "${dir}/zone.list"`,
    `  xfrdfile: "${dir}/xfrd.state"`,
    `  pidfile: "${dir}/nsd.pid"`,
    `  logfile: "${dir}/nsd.log"`,
    'remote-control:',
    '  control-enable: no',
    ...zones.flatMap((z) => ['zone:', `  name: ${z.origin}`, `  zonefile: "${z.file}"`]),
    '',
  ].join('\n');
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: already gone
  }
}

function readLog(dir: string): string {
  for (const name of ['nsd.log', 'nsd.stdout']) {
    try {
      return readFileSync(join(dir, name), 'utf8').slice(-2000);
    } catch {
      // try the next
    }
  }
  return '(no log)';
}
