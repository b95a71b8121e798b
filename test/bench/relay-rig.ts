// The relay benchmark's setup: one throw-away Postfix instance that delivers one onion's mail three
// ways, the Tor stand-in (test/helpers/fake-tor.ts, optionally holding every new CONNECT as a
// rendezvous would) and Postfix's smtp-sink behind it as the onion's server.
//
//   relay path:    smtpd -> transport onionrelay (lmtp) -> our daemon's relay.listen socket
//                  -> SOCKS5 -> fake Tor -> smtp-sink
//   torsocks path: smtpd -> transport smtptor (Postfix's smtp under torsocks, as the smtptor
//                  transport of the examples did) -> SOCKS5 -> fake Tor -> smtp-sink
//   torsocks-nocache: the same with Postfix's connection cache off (see RelayBenchPath)
//
// Each path has its own recipient domain (transport_maps decides the path), all pinned to or
// routed at the same onion; the transports are stock Postfix clients with their default connection
// caching (but the last). The Postfix configuration lives here, not in examples/: the smtp_tor wrapper is written
// into the rig's directory with its torsocks.conf. Every Postfix service gets a large max_idle and
// max_use so that no process exits during a burst: client CPU time is read from /proc while the
// clients live (a process that exits takes it into the master's cutime, which the bench watches).
import { chmodSync, chownSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeTor, type FakeTor } from '../helpers/fake-tor.ts';
import { startPostfix, type PostfixInstance } from '../helpers/postfix.ts';
import { freePort } from '../helpers/ports.ts';
import { removeAtProcessEnd } from '../helpers/process-end.ts';
import { stopChild } from './child-process.ts';
import { reapedChildrenCpuMs, serviceCpuMs, type CpuProbe } from './postfix-burst.ts';
import { BENCH_ONION, startDaemon, track } from './postfix-rig.ts';
import { silentDnsServer } from './daemon-probes.ts';
import { startSmtpSink, type SmtpSink } from './postfix-sink.ts';
import { preciseCpuMs } from './proc-cpu.ts';
import { arrivalProblems, parseSinkDump, type SinkTransaction } from './sink-dump.ts';

/**
 * `torsocks-nocache` is `torsocks` with Postfix's connection cache off: torsocks refuses to take a
 * cached connection from Postfix's scache (its recvmsg: "Inet socket passing detected. Denying it.",
 * EPERM), so the cache the smtptor transport has by default only costs it time; this variant shows
 * the torsocks path without that.
 */
export type RelayBenchPath = 'relay' | 'torsocks' | 'torsocks-nocache';

/** The recipient domain that transport_maps sends down each path. */
export const PATH_DOMAIN: Readonly<Record<RelayBenchPath, string>> = {
  relay: 'relay.onion-bench.example',
  torsocks: 'torsocks.onion-bench.example',
  'torsocks-nocache': 'torsocks-nocache.onion-bench.example',
};

/** The master.cf service of each path, as its client processes name themselves (`-n`). */
export const PATH_SERVICE: Readonly<Record<RelayBenchPath, string>> = {
  relay: 'onionrelay',
  torsocks: 'smtptor',
  'torsocks-nocache': 'smtptor_nocache',
};

/** The Postfix program behind each service, as it logs itself. */
const PATH_PROGRAM: Readonly<Record<RelayBenchPath, string>> = { relay: 'lmtp', torsocks: 'smtp', 'torsocks-nocache': 'smtp' };

/** Idle time of cached connections on both paths: Postfix's smtp_connection_cache_time_limit default. */
export const CONNECTION_IDLE = '2s';

export interface RelayRigPrograms {
  readonly smtpSink: string;
  readonly postconf: string;
  readonly torsocks: string;
}

export interface RelayRigOptions {
  /** How long the fake Tor holds every new CONNECT (the rendezvous); default 0. */
  readonly connectDelayMs?: number;
  readonly daemonLogLevel?: string;
  /** Node flags for the daemon's process (e.g. --cpu-prof). */
  readonly daemonNodeFlags?: readonly string[];
}

export interface RelayRig {
  readonly postfix: PostfixInstance;
  readonly sink: SmtpSink;
  readonly tor: FakeTor;
  readonly daemonPid: number;
  readonly postfixMasterPid: number;
  /** The end of the sink's dump file now, for sinkArrivals. */
  sinkMark(): number;
  /** The transactions the sink dumped after `mark`. */
  sinkArrivals(mark: number): SinkTransaction[];
  daemonLog(): string;
  close(): Promise<void>;
}

export async function startRelayRig(programs: RelayRigPrograms, options: RelayRigOptions = {}): Promise<RelayRig> {
  const dir = mkdtempSync(join(tmpdir(), 'onionmx-bench-relay-'));
  const release = removeAtProcessEnd(dir);
  chmodSync(dir, 0o755); // Postfix's clients (user postfix) reach the relay socket and the wrapper in here
  const closers: (() => Promise<void>)[] = [];
  const close = async (): Promise<void> => {
    for (const closer of closers.reverse()) await closer().catch(() => undefined);
    closers.length = 0;
    rmSync(dir, { recursive: true, force: true });
    release();
  };
  try {
    const mailOwner = execFileSync(programs.postconf, ['-dh', 'mail_owner'], { encoding: 'utf8' }).trim();
    const mailGroup = execFileSync('id', ['-gn', mailOwner], { encoding: 'utf8' }).trim();
    const daemonDirectory = execFileSync(programs.postconf, ['-dh', 'daemon_directory'], { encoding: 'utf8' }).trim();

    const sinkDir = join(dir, 'sink');
    mkdirSync(sinkDir);
    const uid = Number(execFileSync('id', ['-u', mailOwner], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', mailOwner], { encoding: 'utf8' }).trim());
    chownSync(sinkDir, uid, gid); // smtp-sink writes its dump after dropping to the mail owner
    const dumpFile = join(sinkDir, 'dump');
    const sink = await startSmtpSink(programs.smtpSink, await freePort(), mailOwner, track, dumpFile);
    closers.push(() => sink.stop());

    const tor = await startFakeTor({
      routes: { [`${BENCH_ONION}:25`]: { host: '127.0.0.1', port: sink.port } },
      connectDelayMs: options.connectDelayMs ?? 0,
    });
    closers.push(() => tor.close());

    const dns = await silentDnsServer();
    closers.push(() => new Promise<void>((resolve) => dns.socket.close(() => {
      resolve();
    })));
    const relaySocket = join(dir, 'relay.sock');
    const daemon = await startDaemon(
      dir,
      {
        socket: join(dir, 'milter.sock'),
        group: mailGroup,
        dnsPort: dns.port,
        logLevel: options.daemonLogLevel ?? 'info',
        nodeFlags: options.daemonNodeFlags ?? [],
        extraConfig: [
          'relay:',
          `  listen: unix:${relaySocket}`,
          '  starttls: off', // as the smtptor transport: smtp_tls_security_level = none
          '  pool:',
          `    idle_time: ${CONNECTION_IDLE}`,
          'tor:',
          `  socks: 127.0.0.1:${tor.port}`,
          '',
        ].join('\n'),
      },
      [PATH_DOMAIN.relay],
    );
    closers.push(() => stopChild(daemon.child, 15_000));

    // The examples' smtp_tor wrapper, with the torsocks.conf it names in its own environment.
    const torsocksConf = join(dir, 'torsocks.conf');
    writeFileSync(torsocksConf, `TorAddress 127.0.0.1\nTorPort ${tor.port}\nOnionAddrRange 127.42.42.0/24\n`, { mode: 0o644 });
    // master.cf commands are relative to daemon_directory: the instance gets its own, a copy of the
    // system's daemons plus the wrapper (symlinks would make `postfix start` warn about each one).
    const libexec = join(dir, 'libexec');
    mkdirSync(libexec, { mode: 0o755 });
    for (const name of readdirSync(daemonDirectory)) {
      copyFileSync(join(daemonDirectory, name), join(libexec, name));
      chmodSync(join(libexec, name), statSync(join(daemonDirectory, name)).mode & 0o7777);
    }
    writeFileSync(join(libexec, 'smtp_tor'), `#!/bin/sh\nTORSOCKS_CONF_FILE=${torsocksConf} exec ${programs.torsocks} ${join(libexec, 'smtp')} "$@"\n`, { mode: 0o755 });

    // The smtptor service of the examples' master.cf (its smtp_header_checks aside: no header to strip).
    const asExample = '-o smtp_dns_support_level=disabled -o smtp_tls_security_level=none -o inet_protocols=ipv4';
    const postfix = await startPostfix({
      files: {
        transport: [
          `${PATH_DOMAIN.relay} ${PATH_SERVICE.relay}:unix:${relaySocket}`,
          `${PATH_DOMAIN.torsocks} ${PATH_SERVICE.torsocks}:[${BENCH_ONION}]:25`,
          `${PATH_DOMAIN['torsocks-nocache']} ${PATH_SERVICE['torsocks-nocache']}:[${BENCH_ONION}]:25`,
          '',
        ].join('\n'),
      },
      // No Postfix process exits between bursts or during one (smtpd would after 100 sessions).
      mainCf: { transport_maps: 'texthash:$config_directory/transport', daemon_directory: libexec, max_idle: '3600s', max_use: '1000000' },
      masterCf: [
        `${PATH_SERVICE.relay} unix - - n - - lmtp`,
        `${PATH_SERVICE.torsocks} unix - - n - - smtp_tor ${asExample}`,
        `${PATH_SERVICE['torsocks-nocache']} unix - - n - - smtp_tor ${asExample} -o smtp_connection_cache_on_demand=no`,
      ].join('\n'),
    });
    closers.push(() => postfix.stop());
    const postfixMasterPid = Number(readFileSync(join(postfix.queueDir, 'pid', 'master.pid'), 'utf8').trim());

    const dumpSize = (): number => {
      try {
        return statSync(dumpFile).size;
      } catch {
        return 0; // nothing received yet
      }
    };
    return {
      postfix,
      sink,
      tor,
      daemonPid: daemon.pid,
      postfixMasterPid,
      sinkMark: dumpSize,
      sinkArrivals: (mark) => (dumpSize() === 0 ? [] : parseSinkDump(readFileSync(dumpFile).subarray(mark).toString('latin1'))),
      daemonLog: () => readFileSync(daemon.logFile, 'utf8'),
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * The premise of a burst, checked after the clock stopped: the queue is empty, Postfix logged one
 * `status=sent` per message through the path's transport and no deferral or bounce, and the sink
 * got every recipient (smtp-source -N numbers them) exactly once, no Message-Id twice.
 */
export async function verifyRelayBurst(
  rig: RelayRig,
  path: RelayBenchPath,
  marks: { readonly log: number; readonly sink: number },
  expectedRecipients: readonly string[],
): Promise<void> {
  await rig.postfix.waitForEmptyQueue({ timeoutMs: 60_000 });
  const messages = expectedRecipients.length;
  // postlogd and smtp-sink write a little after the fact: wait (bounded) for every line and dump.
  const deadline = Date.now() + 30_000;
  let text = '';
  let arrivals: SinkTransaction[] = [];
  for (;;) {
    text = (await readFile(rig.postfix.logFile)).subarray(marks.log).toString('utf8');
    arrivals = rig.sinkArrivals(marks.sink);
    if (count(text, 'status=sent') >= messages && arrivals.length >= messages) break;
    if (Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const sent = text.split('\n').filter((l) => l.includes('status=sent'));
  const program = PATH_PROGRAM[path];
  const viaPath = sent.filter((l) => l.includes(`/${program}[`) && l.includes(`@${PATH_DOMAIN[path]}>`));
  if (sent.length !== messages || viaPath.length !== messages) {
    throw new Error(`${path}: ${sent.length} status=sent lines, ${viaPath.length} by ${program} to ${PATH_DOMAIN[path]}, expected ${messages}`);
  }
  const trouble = /status=(deferred|bounced)[^\n]*/.exec(text);
  if (trouble !== null) throw new Error(`${path}: Postfix logged ${trouble[0]}`);
  const problems = arrivalProblems(arrivals, expectedRecipients);
  if (problems.length > 0) throw new Error(`${path}: at the sink: ${problems.join('; ')}`);
}

function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

/**
 * What the bench reads around every burst (CPU time so far, ms): our daemon (the relay), the lmtp
 * and the torsocks'd smtp client processes of the transports (by service name), and what the Postfix master has
 * reaped (it should not grow: then no client's CPU time left /proc during the burst).
 */
export function relayProbes(rig: RelayRig): Record<string, CpuProbe> {
  return {
    relay: () => preciseCpuMs(rig.daemonPid),
    lmtp: () => serviceCpuMs(rig.postfixMasterPid, PATH_SERVICE.relay),
    [PATH_SERVICE.torsocks]: () => serviceCpuMs(rig.postfixMasterPid, PATH_SERVICE.torsocks),
    [PATH_SERVICE['torsocks-nocache']]: () => serviceCpuMs(rig.postfixMasterPid, PATH_SERVICE['torsocks-nocache']),
    reaped: () => reapedChildrenCpuMs(rig.postfixMasterPid),
  };
}
