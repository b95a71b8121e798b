// The lab skeleton the Exim and Sendmail labs share (exim-lab.ts, sendmail-lab.ts). A lab runs
// INSIDE a loopback-only network namespace whose /etc/resolv.conf says `nameserver 127.0.0.1`
// (started by its suite through startNetnsWorker with LAB_NETNS). On loopback it hosts:
// - the ordinary DNS server (dns-server.ts): SRV for the onion-routed domains, MX + A for the
//   clearnet one, plus the lab's own records and faults; it records every query, so the test can
//   prove no `.onion` name reached it;
// - the MTA's resolver on 127.0.0.1:53 (exim-tor-dns.ts): `.onion` -> an unroutable virtual
//   address, the rest forwarded to the DNS server; it records every question (an MTA that hands
//   onion mail to the relay never asks about an onion);
// - the fake Tor SocksPort (fake-tor.ts), which connects the onion to the onion's SMTP sink and
//   answers Tor's F2, F4, F6 and F7 for the onions of TOR_F2_DOMAIN ... TOR_F7_DOMAIN; it can be
//   stopped and started again on its port (`stopTor`, `startTor`);
// - two SMTP sinks: the onion's (550 for UNKNOWN_USER, 451 once for TEMPFAIL_ONCE, no answer to
//   the final dot for HANG_AFTER_DATA, which the relay gives up on after data_done, nor to the
//   first one for HANG_ONCE), and the
//   clearnet MX (127.0.0.2:25, forwarded to a sink);
// - `onionmx-milter serve` from examples/config.yml with the settings both labs use plus the MTA's:
//   its relay's LMTP listener on a unix socket (the MTA's way to the onions), a pin map routing
//   PINNED_DOMAIN (emptied by the `unpin` RPC with a SIGHUP);
// - the MTA, started by the lab's `startMta`, whose RPC methods are added to (and may replace)
//   the shared ones below.
import { createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serveRpc, type RpcHandler } from './netns-worker.ts';
import { freePort } from './ports.ts';
import { startDnsServer, type Behaviour, type DnsTestServer, type FixtureRecord } from './dns-server.ts';
import { startTorDns, type TorDns } from './exim-tor-dns.ts';
import { startFakeTor, type FakeTor, type FakeTorOptions } from './fake-tor.ts';
import { startSink, type Sink, type SinkMessage } from './smtp-sink.ts';
import { dataSection, openSmtp, sendSmtp, type Envelope, type SmtpReply, type TransactionResult } from './smtp-client.ts';
import { exampleConfig, startDaemon, type ConfigOverrides, type DaemonProcess, type LogLine } from './e2e-daemon.ts';
import {
  CLEARNET_DOMAIN,
  HANG_AFTER_DATA,
  HANG_ONCE,
  LAB_DATA_DONE_TIMEOUT,
  ONION,
  ONION_DOMAIN,
  PINNED_DOMAIN,
  TEMPFAIL_ONCE,
  TOR_F2_DOMAIN,
  TOR_F2_ONION,
  TOR_F4_DOMAIN,
  TOR_F4_ONION,
  TOR_F6_DOMAIN,
  TOR_F6_ONION,
  TOR_F7_DOMAIN,
  TOR_F7_ONION,
  UNKNOWN_USER,
  VIRTUAL_FIRST_ADDRESS,
  type DaemonMemory,
  type LargeMessageResult,
  type SocksSeen,
} from './mta-lab-fixtures.ts';

const CLEARNET_MX_ADDRESS = '127.0.0.2';

/** What the lab has running before the MTA starts. */
export interface MtaLabParts {
  /** A temp dir for sockets and configuration, mode 0755: the MTA's own user must reach into it. */
  readonly dir: string;
  readonly dns: DnsTestServer;
  /** The resolver on 127.0.0.1:53 (the Tor DNSPort stand-in). */
  readonly resolver: TorDns;
  readonly tor: FakeTor;
  /** The relay's LMTP listener (relay.listen) by default: a unix socket in `dir`. */
  readonly relaySocket: string;
  /** A free loopback port, for a lab whose MTA reaches the relay over TCP instead. */
  readonly relayPort: number;
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
          { name: `_onion-mx._tcp.${TOR_F2_DOMAIN}`, type: 'SRV', ttl: 300, data: { priority: 0, weight: 0, port: 25, target: TOR_F2_ONION } },
          { name: `_onion-mx._tcp.${TOR_F6_DOMAIN}`, type: 'SRV', ttl: 300, data: { priority: 0, weight: 0, port: 25, target: TOR_F6_ONION } },
          { name: `_onion-mx._tcp.${TOR_F4_DOMAIN}`, type: 'SRV', ttl: 300, data: { priority: 0, weight: 0, port: 25, target: TOR_F4_ONION } },
          { name: `_onion-mx._tcp.${TOR_F7_DOMAIN}`, type: 'SRV', ttl: 300, data: { priority: 0, weight: 0, port: 25, target: TOR_F7_ONION } },
          // Were the relay to fail open once the pin is gone, this MX would take the mail.
          { name: PINNED_DOMAIN, type: 'MX', ttl: 300, data: { preference: 10, exchange: `mx.${CLEARNET_DOMAIN}` } },
          ...(spec.records ?? []),
        ],
      },
    ],
    behaviour: spec.behaviour ?? (() => ({ kind: 'zone', ad: true })),
  });
  cleanups.push(() => dns.close());
  const tempfailed = new Set<string>();
  const hungOnce = new Set<string>();
  const onionSink = await startSink({
    // What a Postfix on the far side offers: the relay passes DSN parameters only to a server that has DSN.
    capabilities: { pipelining: true, eightBitMime: true, smtpUtf8: true, dsn: true, enhancedStatusCodes: true },
    rcptReply: (to) => (to.startsWith(`${UNKNOWN_USER}@`) ? `550 5.1.1 <${to}>: no such user here` : undefined),
    dataEndReply: (m) => {
      const subject = /^Subject: (.*)$/m.exec(m.data)?.[1] ?? '';
      if (subject.includes(HANG_AFTER_DATA)) return { hang: true };
      if (subject.includes(HANG_ONCE) && !hungOnce.has(subject)) {
        hungOnce.add(subject);
        return { hang: true };
      }
      if (!subject.includes(TEMPFAIL_ONCE) || tempfailed.has(subject)) return undefined;
      tempfailed.add(subject);
      return '451 4.3.0 Try again later';
    },
  });
  cleanups.push(() => onionSink.close());
  const clearnetSink = await startSink();
  cleanups.push(() => clearnetSink.close());
  const mx = await forward(CLEARNET_MX_ADDRESS, 25, clearnetSink.port);
  cleanups.push(() => new Promise<void>((r) => mx.close(() => { r(); })));

  const onionRoute = { host: '127.0.0.1', port: onionSink.port };
  const torOptions: FakeTorOptions = {
    routes: { [`${ONION}:25`]: onionRoute },
    replies: {
      [TOR_F2_ONION]: { kind: 'fail', rep: 0xf2 },
      [TOR_F4_ONION]: { kind: 'fail', rep: 0xf4 },
      [TOR_F6_ONION]: { kind: 'fail', rep: 0xf6 },
      [TOR_F7_ONION]: { kind: 'fail', rep: 0xf7 },
    },
  };
  let tor = await startFakeTor(torOptions);
  let torRunning = true;
  cleanups.push(() => (torRunning ? tor.close() : undefined));
  const resolver = await startTorDns({ address: '127.0.0.1', port: 53, upstream: { address: '127.0.0.1', port: dns.port }, firstAddress: VIRTUAL_FIRST_ADDRESS });
  cleanups.push(() => resolver.close());
  const relaySocket = join(dir, 'relay.sock');
  const parts: MtaLabParts = { dir, dns, resolver, tor, relaySocket, relayPort: await freePort() };
  const pins = join(dir, 'pins.yml');
  writeFileSync(pins, `${PINNED_DOMAIN}: ${ONION}\n`);

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
      maps: [pins],
      'relay.listen': `unix:${relaySocket}`,
      'relay.timeouts.data_done': LAB_DATA_DONE_TIMEOUT,
      'log.level': 'info',
      // The example's table-mode nexthop is Postfix's (a chrooted lmtp socket name); these labs
      // reach relay.listen their own way, and the Sendmail lab names its own mailer.
      'header.transport': 'smtptor',
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
  /** Empties the pin map and waits until the daemon has reloaded it (SIGHUP). */
  const unpin = async (): Promise<void> => {
    writeFileSync(pins, '{}\n');
    const since = daemon.mark();
    daemon.child.kill('SIGHUP');
    await daemon.waitFor(/^configuration reloaded$/, { since });
  };
  serveRpc(
    {
      smtp: (envelope: Envelope): Promise<TransactionResult> => sendSmtp(mta.port, envelope),
      /** One SMTP transaction whose route for PINNED_DOMAIN vanishes after RCPT, before DATA: the MTA routed it to the relay, which finds no route. */
      smtpUnpinningBeforeData: async (envelope: Envelope): Promise<TransactionResult> => {
        const session = await openSmtp(mta.port);
        try {
          await session.ehlo();
          const mail = await session.command(`MAIL FROM:<${envelope.from}>`);
          const rcpts = [];
          for (const address of envelope.to) rcpts.push({ address, reply: await session.command(`RCPT TO:<${address}>`) });
          await unpin();
          const go = await session.command('DATA');
          if (go.code !== 354) return { mail, rcpts, data: go };
          // command() adds the CRLF that ends the final `.` line.
          return { mail, rcpts, data: await session.command(dataSection(envelope.message).slice(0, -2)) };
        } finally {
          await session.quit().catch(() => undefined);
        }
      },
      /** The daemon log's length now, for relayDelivery's `since`. */
      daemonLogMark: (): number => daemon.mark(),
      /**
       * The relay's first delivery line after `since` with a recipient of `domain` (whose outcome is
       * `outcome`, when given: lines are written in batches, so an earlier delivery's may come later).
       */
      relayDelivery: (domain: string, since: number, outcome?: string): Promise<LogLine> =>
        daemon.waitFor(/^relay delivery$/, {
          since,
          where: (l) => Array.isArray(l['recipients']) && (l['recipients'] as { domain?: string; outcome?: string }[]).some((r) => r.domain === domain && (outcome === undefined || r.outcome === outcome)),
        }),
      smtpDialog: (lines: string[]): Promise<SmtpReply[]> => smtpDialog(mta.port, lines),
      /** The first message whose Subject header is `subject`. */
      waitForMessage: (sink: string, subject: string): Promise<SinkMessage> => sinkOf(sink).waitForMessage((m) => m.data.includes(`\r\nSubject: ${subject}\r\n`) || m.data.startsWith(`Subject: ${subject}\r\n`)),
      messages: (sink: string): readonly SinkMessage[] => sinkOf(sink).messages,
      /** SMTP connections the sink has accepted so far. */
      sinkConnections: (sink: string): number => sinkOf(sink).connectionCount,
      upstreamDnsQueries: (): string[] => dns.queries.map((q) => `${q.name.toLowerCase()} ${q.type}`),
      socksRequests: (): SocksSeen[] => tor.requests.map((r) => ({ command: r.command, atyp: r.atyp, destination: r.destination, rep: r.rep, username: r.username })),
      daemonLog: () => daemon.lines,
      /** Resolves once the onion sink holds back its reply to the final dot of the HANG_ONCE message `subject`. */
      waitForHeldFinalDot: (subject: string): Promise<void> => onionSink.waitUntil(() => hungOnce.has(subject)),
      /** Closes the fake Tor's listener and every stream through it (Tor stopped). */
      stopTor: async (): Promise<void> => {
        torRunning = false;
        await tor.close();
      },
      /** The fake Tor back on its old port, with its old routes and failures. */
      startTor: async (): Promise<void> => {
        tor = await startFakeTor({ ...torOptions, port: tor.port });
        torRunning = true;
      },
      /** The daemon's RSS and its peak since resetDaemonPeak, from /proc. */
      daemonMemory: (): DaemonMemory => {
        const status = readFileSync(`/proc/${String(daemon.child.pid)}/status`, 'utf8');
        const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status)?.[1] ?? Number.NaN) * 1024;
        return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
      },
      /** Writing 5 to clear_refs resets VmHWM to the current RSS. */
      resetDaemonPeak: (): void => {
        writeFileSync(`/proc/${String(daemon.child.pid)}/clear_refs`, '5');
      },
      smtpLarge: (from: string, to: string[], subject: string, megabytes: number): Promise<LargeMessageResult> => sendLarge(mta.port, onionSink, { from, to, subject, megabytes }),
      stopDaemon: async (): Promise<void> => {
        await daemon.stop();
      },
      /** SIGKILL: the daemon gets no chance to close anything (a crash). */
      killDaemon: async (): Promise<void> => {
        await daemon.kill();
      },
      startDaemon: async (): Promise<void> => {
        daemon = await startDaemon(configPath);
      },
      ...mta.handlers,
    },
    cleanups,
  );
}

const LARGE_LINE = `${'0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'.repeat(2).slice(0, 76)}\r\n`;
/** LARGE_LINE 1024 times (78 KB): the generator's unit. */
const LARGE_BLOCK = LARGE_LINE.repeat(1024);

/**
 * One SMTP transaction with a generated message of at least `megabytes` MB, streamed block by block
 * (never held whole here); then waits for the onion sink to have it and compares the received
 * body with what was generated by SHA-256.
 */
async function sendLarge(port: number, sink: Sink, spec: { from: string; to: readonly string[]; subject: string; megabytes: number }): Promise<LargeMessageResult> {
  const blocks = Math.ceil((spec.megabytes * 1024 * 1024) / LARGE_BLOCK.length);
  const bodyHash = createHash('sha256');
  function* dataSectionOf(): Generator<string> {
    yield `Subject: ${spec.subject}\r\nMessage-ID: <large-${String(blocks)}@client.test>\r\n\r\n`;
    for (let i = 0; i < blocks; i++) {
      bodyHash.update(LARGE_BLOCK);
      yield LARGE_BLOCK;
    }
    yield '.\r\n';
  }
  const session = await openSmtp(port);
  try {
    await session.ehlo();
    const refused = (r: SmtpReply): LargeMessageResult => ({ data: { code: r.code, raw: r.raw }, size: 0, bodyIntact: false });
    const mail = await session.command(`MAIL FROM:<${spec.from}>`);
    if (mail.code !== 250) return refused(mail);
    for (const address of spec.to) {
      const rcpt = await session.command(`RCPT TO:<${address}>`);
      if (rcpt.code !== 250) return refused(rcpt);
    }
    const go = await session.command('DATA');
    if (go.code !== 354) return refused(go);
    const data = await session.streamData(dataSectionOf());
    if (data.code !== 250) return refused(data);
    const m = await sink.waitForMessage((x) => x.data.startsWith(`Subject: ${spec.subject}\r\n`) || x.data.includes(`\r\nSubject: ${spec.subject}\r\n`), 120_000);
    const bodyLength = blocks * LARGE_BLOCK.length;
    const tail = createHash('sha256').update(m.bytes.subarray(m.bytes.length - bodyLength)).digest('hex');
    return { data: { code: data.code, raw: data.raw }, size: m.size, bodyIntact: tail === bodyHash.digest('hex') };
  } finally {
    await session.quit().catch(() => undefined);
  }
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
