// `onionmx-milter serve` for the soak: the shipped examples/config.yml with the milter, socketmap and
// tcp_table on loopback TCP, 1000 pinned domains, the bundled map as shipped, DNS pointed at a port
// that never answers (pinned domains need no query), the JSON log at info into a file as journald
// would take it, with the node flags of the shipped systemd unit. The process is read from
// outside only (/proc), as an operator would see it.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync, openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { CLI } from '../cli/cli-helpers.ts';
import { exampleConfig, unitNodeFlags } from '../helpers/e2e-daemon.ts';

export { unitNodeFlags };
import { freePort } from '../helpers/ports.ts';
import { atProcessEnd } from '../helpers/process-end.ts';
import { stopChild } from '../helpers/stop-child.ts';
import { accepts, silentDnsServer } from './daemon-probes.ts';

export const SOAK_ONION = 'aj3nsqqcksrrc5cye5etjsoewz6jrygpekzwoko3q6wyxjlb3dgasfid.onion';
export const PINNED_DOMAINS = 1000;
export const pinnedDomain = (i: number): string => `pin${i % PINNED_DOMAINS}.example`;

export interface SoakDaemon {
  readonly pid: number;
  readonly milter: string;
  readonly socketmapPort: number;
  readonly tcpTablePort: number;
  readonly logFile: string;
  /** DNS queries the daemon sent (0 expected: every domain is pinned). */
  dnsQueries(): number;
  /** Whether the process is still running (a crash ends the soak as a failure). */
  running(): boolean;
  stop(): Promise<void>;
}

export interface ProcessSample {
  readonly rssBytes: number;
  readonly peakRssBytes: number;
  readonly fds: number;
}

/** VmRSS, VmHWM and the open file descriptors of a live process, from /proc. */
export function sampleProcess(pid: number): ProcessSample {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rssBytes: kb('VmRSS'), peakRssBytes: kb('VmHWM'), fds: readdirSync(`/proc/${pid}/fd`).length };
}

export interface SoakDaemonOptions {
  /** Run with the unit's node flags (default), or as plain `node` with none (the before figures). */
  readonly runtime?: 'unit' | 'bare';
  readonly nodeFlags?: readonly string[];
}

export async function startSoakDaemon(dir: string, o: SoakDaemonOptions = {}): Promise<SoakDaemon> {
  const dns = await silentDnsServer();
  const [milterPort, socketmapPort, tcpTablePort] = [await freePort(), await freePort(), await freePort()];
  const pins = join(dir, 'pins.yml');
  writeFileSync(pins, Array.from({ length: PINNED_DOMAINS }, (_, i) => `${pinnedDomain(i)}: ${SOAK_ONION}\n`).join(''));
  const config = join(dir, 'config.yml');
  writeFileSync(
    config,
    exampleConfig({
      'milter.listen': `inet:127.0.0.1:${milterPort}`,
      'milter.submission_listen': null,
      'milter.socket_group': null,
      'lookup.socketmap': `inet:127.0.0.1:${socketmapPort}`,
      'lookup.tcp_table': `inet:127.0.0.1:${tcpTablePort}`,
      // Routes spelled per onion (<transport>:[<onion>]:25), as the soak's expectations are written.
      'relay.postfix_nexthop': null,
      maps: [pins],
      'dns.servers': [`127.0.0.1:${dns.port}`],
      'log.format': 'json',
    }),
  );
  const logFile = join(dir, 'daemon.log');
  const fd = openSync(logFile, 'a');
  const flags = [...(o.runtime === 'bare' ? [] : unitNodeFlags()), ...(o.nodeFlags ?? [])];
  const child = spawn(process.execPath, [...flags, CLI, 'serve', '--config', config, '--grace', '5', '--allow-root'], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const release = atProcessEnd(() => child.kill('SIGKILL'));
  const stop = async (): Promise<void> => {
    await stopChild(child, 10_000);
    release();
    dns.socket.close();
  };
  try {
    await waitUntilListening(child, milterPort, logFile);
  } catch (err) {
    await stop();
    throw err;
  }
  if (child.pid === undefined) throw new Error('onionmx-milter serve has no pid');
  return {
    pid: child.pid,
    milter: `inet:127.0.0.1:${milterPort}`,
    socketmapPort,
    tcpTablePort,
    logFile,
    dnsQueries: () => dns.queries(),
    running: () => child.exitCode === null && child.signalCode === null,
    stop,
  };
}

async function waitUntilListening(child: ChildProcess, port: number, logFile: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`onionmx-milter serve exited at start:\n${readFileSync(logFile, 'utf8')}`);
    if (readFileSync(logFile, 'utf8').includes('onionmx-milter started') && (await accepts(port))) return;
    if (Date.now() > deadline) throw new Error(`onionmx-milter serve did not start within 20 s:\n${readFileSync(logFile, 'utf8')}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
