// The fault matrix's lab: every real piece once, on loopback, shared by the cells (see README.md).
// - DNS: the fixture server (dns-server.ts) answering for `faults.example`: an authenticated
//   `_onion-mx._tcp` SRV to ONION for every `<label>.srv.faults.example`, NXDOMAIN for the rest;
//   cells swap its behaviour or restart it on the same port;
// - Tor: the SocksPort stand-in (fake-tor.ts) routing ONION:25 to the onion sink, SPOOF_ONION:25
//   to a third sink that must stay empty; cells close it and bring it back on the same port;
// - Postfix (postfix.ts) built here, not from examples/postfix: our milter on a loopback port with
//   milter_default_action = tempfail, `FILTER onionrelay:[127.0.0.1]:<relay>` for the routing
//   header, an lmtp service `onionrelay`, and everything untagged to the clearnet sink (relayhost);
// - `onionmx-milter serve` from examples/config.yml with the milter, the relay's LMTP listener and
//   a socketmap lookup listener on loopback ports; restartable with other settings or another
//   launch (a low fd limit, stdout on /dev/full, a pipe nobody reads).
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ed25519 } from '@noble/curves/ed25519.js';
import { startDnsServer, type Behaviour, type DnsTestServer, type FixtureReply } from '../helpers/dns-server.ts';
import { startFakeTor, type FakeTor } from '../helpers/fake-tor.ts';
import { startSink, type Sink } from '../helpers/smtp-sink.ts';
import { startPostfix, sinkNexthop, type PostfixInstance } from '../helpers/postfix.ts';
import { exampleConfig, startDaemon, type ConfigOverrides, type DaemonProcess } from '../helpers/e2e-daemon.ts';
import { freePort } from '../helpers/ports.ts';
import { atProcessEnd, removeAtProcessEnd } from '../helpers/process-end.ts';
import { stopChild } from '../helpers/stop-child.ts';
import { CLI } from '../cli/cli-helpers.ts';
import { onionFromPublicKey } from '../../src/resolve/onion.ts';

export const ZONE = 'faults.example';
export const ONION = onionFromPublicKey(ed25519.getPublicKey(new Uint8Array(32).fill(21)));
/** What a spoofed DNS reply points to: any mail that reaches it was misrouted. */
export const SPOOF_ONION = onionFromPublicKey(ed25519.getPublicKey(new Uint8Array(32).fill(22)));
/** Pinned in the operator map (static route, no DNS). */
export const PINNED_DOMAIN = `pinned.${ZONE}`;
export const srvDomain = (label: string): string => `${label}.srv.${ZONE}`;
export const clearDomain = (label: string): string => `${label}.clear.${ZONE}`;

const SRV_OWNER = new RegExp(`^_onion-mx\\._tcp\\.[^.]+\\.srv\\.${ZONE.replace('.', '\\.')}$`, 'i');

/** The zone's answer to one query: the SRV for `<label>.srv.faults.example`, else NXDOMAIN. */
export function zoneReply(name: string, extra: Partial<FixtureReply> = {}, target = ONION): FixtureReply {
  if (SRV_OWNER.test(name)) {
    return { kind: 'zone', ad: true, answers: [{ name, type: 'SRV', ttl: 300, data: { priority: 0, weight: 0, port: 25, target } }], ...extra };
  }
  return { kind: 'zone', ad: true, ...extra };
}

export const HEALTHY_DNS: Behaviour = (q) => zoneReply(q.name);

/** How the daemon is started: by startDaemon (log on a pipe we read) or another way. */
export type Launch =
  | { readonly kind: 'normal'; readonly wrapper?: readonly string[] }
  | { readonly kind: 'stdout'; readonly to: 'dev-full' | 'unread-pipe' };

export interface RunningDaemon {
  readonly child: ChildProcess;
  /** The JSON log when we read it (launch `normal`), else empty. */
  readonly logged: DaemonProcess | undefined;
  reload(): void;
  stop(): Promise<void>;
}

export interface Lab {
  readonly dir: string;
  dns: DnsTestServer;
  tor: FakeTor;
  readonly onionSink: Sink;
  readonly clearSink: Sink;
  readonly spoofSink: Sink;
  readonly pf: PostfixInstance;
  daemon: RunningDaemon;
  readonly ports: { readonly milter: number; readonly relay: number; readonly socketmap: number };
  readonly configPath: string;
  readonly pinsPath: string;
  /** Writes the config (defaults + overrides) without reloading. */
  writeConfig(overrides?: ConfigOverrides): void;
  /** Stops the daemon and starts it again with these overrides and launch (defaults when omitted). */
  restartDaemon(overrides?: ConfigOverrides, launch?: Launch): Promise<void>;
  /** Closes the DNS server; `restartDns` brings it back on the same port. */
  stopDns(): Promise<void>;
  restartDns(): Promise<void>;
  stopTor(): Promise<void>;
  restartTor(): Promise<void>;
  close(): Promise<void>;
}

export interface LabOptions {
  /** Postfix main.cf parameters on top of the lab's. */
  readonly mainCf?: Readonly<Record<string, string>>;
}

export async function startLab(options: LabOptions = {}): Promise<Lab> {
  const cleanups: (() => Promise<void>)[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'onionmx-faults-'));
  const release = removeAtProcessEnd(dir);
  cleanups.push(() => {
    rmSync(dir, { recursive: true, force: true });
    release();
    return Promise.resolve();
  });
  try {
    const onionSink = await startSink();
    cleanups.push(() => onionSink.close());
    const clearSink = await startSink();
    cleanups.push(() => clearSink.close());
    const spoofSink = await startSink();
    cleanups.push(() => spoofSink.close());
    const routes = { [`${ONION}:25`]: { host: '127.0.0.1', port: onionSink.port }, [`${SPOOF_ONION}:25`]: { host: '127.0.0.1', port: spoofSink.port } };
    let tor = await startFakeTor({ routes });
    const torPort = tor.port;
    let dns = await startDnsServer({ zones: [{ origin: ZONE, soa: { ttl: 60, minimum: 60 }, records: [] }], behaviour: HEALTHY_DNS });
    const dnsPort = dns.port;
    const ports = { milter: await freePort(), relay: await freePort(), socketmap: await freePort() };

    const headerChecks = `/^X-Onion-Route:[[:space:]]*onionrelay:\\[[a-z2-7]{56}\\.onion\\]:[0-9]+[[:space:]]*$/ FILTER onionrelay:${sinkNexthop(ports.relay)}\n`;
    const pf = await startPostfix({
      mainCf: {
        smtpd_milters: `inet:127.0.0.1:${ports.milter}`,
        milter_default_action: 'tempfail',
        milter_protocol: '6',
        milter_connect_timeout: '2s',
        milter_command_timeout: '5s',
        milter_content_timeout: '10s',
        milter_header_checks: 'regexp:$config_directory/milter_header_checks',
        lmtp_header_checks: 'regexp:$config_directory/strip_route',
        smtp_header_checks: 'regexp:$config_directory/strip_route',
        default_transport: 'smtp',
        relayhost: sinkNexthop(clearSink.port),
        ...options.mainCf,
      },
      masterCf: 'onionrelay unix - - n - - lmtp\n',
      files: { milter_header_checks: headerChecks, strip_route: '/^X-Onion-Route:/ IGNORE\n' },
    });
    cleanups.push(() => pf.stop());

    const configPath = join(dir, 'config.yml');
    const pinsPath = join(dir, 'pins.yml');
    writeFileSync(pinsPath, `${PINNED_DOMAIN}: ${ONION}\n`);
    const writeConfig = (overrides: ConfigOverrides = {}): void => {
      writeFileSync(
        configPath,
        exampleConfig({
          'milter.listen': `inet:127.0.0.1:${ports.milter}`,
          'milter.submission_listen': null,
          'header.transport': 'onionrelay',
          maps: [pinsPath],
          bundled_map: false,
          'dns.servers': [{ address: '127.0.0.1', port: dnsPort }],
          'dns.timeout': '300ms',
          'dns.deadline': '1s',
          'tor.socks': `127.0.0.1:${torPort}`,
          'tor.connect_timeout': '3s',
          'relay.listen': `inet:127.0.0.1:${ports.relay}`,
          'relay.helo_name': 'relay.faults.test',
          'lookup.socketmap': `inet:127.0.0.1:${ports.socketmap}`,
          'log.level': 'info',
          'log.format': 'json',
          ...overrides,
        }),
      );
    };
    writeConfig();
    let daemon = await launchDaemon(configPath, { kind: 'normal' }, ports.milter);
    cleanups.push(() => lab.daemon.stop());

    const lab: Lab = {
      dir,
      dns,
      tor,
      onionSink,
      clearSink,
      spoofSink,
      pf,
      daemon,
      ports,
      configPath,
      pinsPath,
      writeConfig,
      async restartDaemon(overrides = {}, launch = { kind: 'normal' }) {
        await lab.daemon.stop();
        writeConfig(overrides);
        daemon = await launchDaemon(configPath, launch, ports.milter);
        lab.daemon = daemon;
      },
      async stopDns() {
        await lab.dns.close();
      },
      async restartDns() {
        dns = await startDnsServer({ port: dnsPort, zones: [{ origin: ZONE, soa: { ttl: 60, minimum: 60 }, records: [] }], behaviour: HEALTHY_DNS });
        lab.dns = dns;
      },
      async stopTor() {
        await lab.tor.close();
      },
      async restartTor() {
        tor = await startFakeTor({ routes, port: torPort });
        lab.tor = tor;
      },
      async close() {
        for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
      },
    };
    cleanups.push(() => lab.dns.close());
    cleanups.push(() => lab.tor.close());
    return lab;
  } catch (err) {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    throw err;
  }
}

async function launchDaemon(configPath: string, launch: Launch, milterPort: number): Promise<RunningDaemon> {
  if (launch.kind === 'normal') {
    const logged = await startDaemon(configPath, launch.wrapper === undefined ? {} : { command: [...launch.wrapper, process.execPath, CLI] });
    return { child: logged.child, logged, reload: () => logged.child.kill('SIGHUP'), stop: () => stopChild(logged.child, 5000) };
  }
  const args = [CLI, 'serve', '--config', configPath, '--grace', '2', '--allow-root'];
  let child: ChildProcess;
  if (launch.to === 'dev-full') {
    const full = openSync('/dev/full', 'w');
    try {
      child = spawn(process.execPath, args, { stdio: ['ignore', full, 'pipe'] });
    } finally {
      closeSync(full);
    }
  } else {
    child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    // Never read: the pipe fills and stays full.
    child.stdout?.pause();
  }
  const release = atProcessEnd(() => child.kill('SIGKILL'));
  child.once('exit', release);
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  await waitForListener(milterPort, child, () => stderr);
  return {
    child,
    logged: undefined,
    reload: () => child.kill('SIGHUP'),
    stop: () => stopChild(child, 3000),
  };
}

/** Resolves once something accepts connections on the port; rejects if the child exits first. */
export async function waitForListener(port: number, child: ChildProcess, stderr: () => string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`daemon exited (${String(child.exitCode ?? child.signalCode)}) before listening: ${stderr()}`);
    if (await canConnect(port)) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms: ${stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function canConnect(port: number): Promise<boolean> {
  const socket = connect(port, '127.0.0.1');
  try {
    await once(socket, 'connect');
    return true;
  } catch {
    return false;
  } finally {
    socket.destroy();
  }
}
