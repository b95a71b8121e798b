// The lab skeleton the Exim and Sendmail labs share (exim-lab.ts, sendmail-lab.ts). A lab runs
// INSIDE a loopback-only network namespace whose /etc/resolv.conf says `nameserver 127.0.0.1`
// (started by its suite through startNetnsWorker with LAB_NETNS). On loopback it hosts:
// - the ordinary DNS server (dns-server.ts): SRV for the onion-routed domain, MX + A for the
//   clearnet one, plus the lab's own records and faults; it records every query, so the test can
//   prove no `.onion` name reached it;
// - the MTA's resolver on 127.0.0.1:53, a stand-in for Tor's DNSPort (exim-tor-dns.ts): `.onion`
//   -> a virtual address from 10.192.0.0/10 (unroutable here: only the SOCKS path can reach it),
//   the rest forwarded to the DNS server; it records every question;
// - the fake Tor SocksPort (fake-tor.ts), which connects the onion, and, as Tor does, each virtual
//   address handed out for it, to the onion's SMTP sink;
// - two SMTP sinks: the onion's, and the clearnet MX (127.0.0.2:25, forwarded to a sink);
// - `onionmx-milter serve` from examples/config.yml with the settings both labs use plus the MTA's;
// - the MTA, started by the lab's `startMta`, whose RPC methods are added to (and may replace)
//   the shared ones below.
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serveRpc, type RpcHandler } from './netns-worker.ts';
import { startDnsServer, type Behaviour, type DnsTestServer, type FixtureRecord } from './dns-server.ts';
import { startTorDns, type TorDns } from './exim-tor-dns.ts';
import { startFakeTor, type FakeTor } from './fake-tor.ts';
import { startSink, type Sink, type SinkMessage } from './smtp-sink.ts';
import { openSmtp, sendSmtp, type Envelope, type SmtpReply, type TransactionResult } from './smtp-client.ts';
import { exampleConfig, startDaemon, type ConfigOverrides, type DaemonProcess } from './e2e-daemon.ts';
import { CLEARNET_DOMAIN, ONION, ONION_DOMAIN, VIRTUAL_FIRST_ADDRESS, type SocksSeen } from './mta-lab-fixtures.ts';

const CLEARNET_MX_ADDRESS = '127.0.0.2';

/** What the lab has running before the MTA starts. */
export interface MtaLabParts {
  /** A temp dir for sockets and configuration, mode 0755: the MTA's own user must reach into it. */
  readonly dir: string;
  readonly dns: DnsTestServer;
  /** The resolver on 127.0.0.1:53 (the Tor DNSPort stand-in). */
  readonly resolver: TorDns;
  readonly tor: FakeTor;
}

export interface RunningMta {
  /** Its SMTP port on 127.0.0.1. */
  readonly port: number;
  stop(): Promise<void>;
  readonly handlers: Readonly<Record<string, RpcHandler>>;
}

export interface MtaLabSpec {
  /** `exim`, `sendmail`: for the temp dir and the failure message. */
  readonly name: string;
  /** Records added to the shared zone `example`. */
  readonly records?: readonly FixtureRecord[];
  /** The DNS server's answers; by default the zone, with AD=1 (loopback DNS is trusted for AD). */
  readonly behaviour?: Behaviour;
  /** The daemon's settings for this MTA (listen and lookup sockets ...), on top of the shared ones. */
  config(parts: MtaLabParts): ConfigOverrides;
  startMta(parts: MtaLabParts): Promise<RunningMta>;
}

/** One command at a time; each reply (code 0 once the server has closed the connection). */
export async function smtpDialog(port: number, lines: readonly string[]): Promise<SmtpReply[]> {
  const session = await openSmtp(port);
  const replies: SmtpReply[] = [];
  for (const line of lines) replies.push(await session.command(line).catch(() => ({ code: 0, lines: [], raw: '(connection closed)' })));
  session.destroy();
  return replies;
}

/** The lab's main: starts everything, then serves RPC until the suite closes it. */
export function runMtaLab(spec: MtaLabSpec): void {
  startLab(spec).catch((err: unknown) => {
    process.stderr.write(`${spec.name} lab failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}

async function startLab(spec: MtaLabSpec): Promise<void> {
  const cleanups: (() => Promise<void> | void)[] = [];
  const dir = mkdtempSync(join(tmpdir(), `onionmx-${spec.name}-lab-`));
  chmodSync(dir, 0o755);
  const dns = await startDnsServer({
    zones: [
      {
        origin: 'example',
        soa: { ttl: 60, minimum: 60 },
        records: [
          { name: `_onion-mx._tcp.${ONION_DOMAIN}`, type: 'SRV', ttl: 300, data: { priority: 0, weight: 0, port: 25, target: ONION } },
          { name: CLEARNET_DOMAIN, type: 'MX', ttl: 300, data: { preference: 10, exchange: `mx.${CLEARNET_DOMAIN}` } },
          { name: `mx.${CLEARNET_DOMAIN}`, type: 'A', ttl: 300, data: CLEARNET_MX_ADDRESS },
          ...(spec.records ?? []),
        ],
      },
    ],
    behaviour: spec.behaviour ?? (() => ({ kind: 'zone', ad: true })),
  });
  cleanups.push(() => dns.close());
  const onionSink = await startSink();
  cleanups.push(() => onionSink.close());
  const clearnetSink = await startSink();
  cleanups.push(() => clearnetSink.close());
  const mx = await forward(CLEARNET_MX_ADDRESS, 25, clearnetSink.port);
  cleanups.push(() => new Promise<void>((r) => mx.close(() => { r(); })));

  const onionRoute = { host: '127.0.0.1', port: onionSink.port };
  const tor = await startFakeTor({ routes: { [`${ONION}:25`]: onionRoute } });
  cleanups.push(() => tor.close());
  const resolver = await startTorDns({
    address: '127.0.0.1',
    port: 53,
    upstream: { address: '127.0.0.1', port: dns.port },
    firstAddress: VIRTUAL_FIRST_ADDRESS,
    onMap: (onion, address) => {
      if (onion === ONION) tor.route(`${address}:25`, onionRoute);
    },
  });
  cleanups.push(() => resolver.close());
  const parts: MtaLabParts = { dir, dns, resolver, tor };

  const configPath = join(dir, 'config.yml');
  writeFileSync(
    configPath,
    exampleConfig({
      'milter.submission_listen': null,
      'milter.mixed_routes': 'allow',
      'header.format': 'domain-list',
      'dns.servers': [{ address: '127.0.0.1', port: dns.port }],
      bundled_map: false,
      'tor.socks': `127.0.0.1:${tor.port}`,
      'log.level': 'info',
      // The example is set up for Postfix and the relay; these labs deliver their own way.
      'header.transport': 'smtptor',
      'relay.listen': null,
      'relay.postfix_nexthop': null,
      ...spec.config(parts),
    }),
  );
  let daemon: DaemonProcess = await startDaemon(configPath);
  cleanups.push(async () => {
    await daemon.stop();
  });

  const mta = await spec.startMta(parts);
  cleanups.push(() => mta.stop());

  const sinks: Record<string, Sink> = { onion: onionSink, clearnet: clearnetSink };
  const sinkOf = (name: string): Sink => {
    const s = sinks[name];
    if (s === undefined) throw new Error(`no sink ${name}`);
    return s;
  };
  serveRpc(
    {
      smtp: (envelope: Envelope): Promise<TransactionResult> => sendSmtp(mta.port, envelope),
      smtpDialog: (lines: string[]): Promise<SmtpReply[]> => smtpDialog(mta.port, lines),
      /** The first message whose Subject header is `subject`. */
      waitForMessage: (sink: string, subject: string): Promise<SinkMessage> => sinkOf(sink).waitForMessage((m) => m.data.includes(`\r\nSubject: ${subject}\r\n`) || m.data.startsWith(`Subject: ${subject}\r\n`)),
      messages: (sink: string): readonly SinkMessage[] => sinkOf(sink).messages,
      upstreamDnsQueries: (): string[] => dns.queries.map((q) => `${q.name.toLowerCase()} ${q.type}`),
      socksRequests: (): SocksSeen[] => tor.requests.map((r) => ({ command: r.command, atyp: r.atyp, destination: r.destination, rep: r.rep })),
      daemonLog: () => daemon.lines,
      stopDaemon: async (): Promise<void> => {
        await daemon.stop();
      },
      startDaemon: async (): Promise<void> => {
        daemon = await startDaemon(configPath);
      },
      ...mta.handlers,
    },
    cleanups,
  );
}

/** A plain TCP relay (the clearnet MX), half-close passed through as a real TCP path does. */
async function forward(listenHost: string, listenPort: number, targetPort: number): Promise<Server> {
  const server = createServer({ allowHalfOpen: true }, (client) => {
    const upstream = connect({ port: targetPort, host: '127.0.0.1', allowHalfOpen: true });
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listenPort, listenHost, resolve);
  });
  return server;
}
