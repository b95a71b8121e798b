// The Sendmail lab: runs INSIDE a loopback-only network namespace whose /etc/resolv.conf says
// `nameserver 127.0.0.1` (started by sendmail.test.ts through startNetnsWorker). On loopback:
// - the ordinary DNS server (SRV for the onion-routed domain, MX + A for the clearnet one; two
//   domains with the clearnet MX whose SRV query fails: SERVFAIL, or no answer), behind
//   a recording forwarder on 127.0.0.1:53 (exim-tor-dns.ts; Sendmail has no Tor DNS, so any
//   `.onion` question it records is a leak);
// - the fake Tor SocksPort, which torsocks reaches with the onion name (ATYP 3) and which pipes it
//   to the onion's SMTP sink; torsocks.conf points at it (an `E` line in the .cf);
// - the clearnet MX (127.0.0.2:25, forwarded to a sink);
// - `onionmx-milter serve` with the milter and the Sendmail socket map on unix sockets;
// - Sendmail from examples/sendmail/onionmx.mc, with only paths changed.
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serveRpc } from './netns-worker.ts';
import { startDnsServer } from './dns-server.ts';
import { startTorDns } from './exim-tor-dns.ts';
import { startFakeTor } from './fake-tor.ts';
import { startSink, type Sink, type SinkMessage } from './smtp-sink.ts';
import { openSmtp, sendSmtp, type Envelope, type SmtpReply, type TransactionResult } from './smtp-client.ts';
import { exampleConfig, startDaemon, type DaemonProcess } from './e2e-daemon.ts';
import { sendmailInstall } from './sendmail-install.ts';
import { startSendmail, type RunResult } from './sendmail.ts';
import { CLEARNET_DOMAIN, ONION, ONION_DOMAIN, ONION_RELAY, SENDMAIL_EXAMPLE_MC, SERVFAIL_DOMAIN, SILENT_DOMAIN } from './sendmail-lab-fixtures.ts';

const CLEARNET_MX_ADDRESS = '127.0.0.2';

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

async function main(): Promise<void> {
  const cleanups: (() => Promise<void> | void)[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'onionmx-sendmail-lab-'));
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
          // Same MX as the clearnet domain: were the daemon to fail open, Sendmail would deliver
          // these by MX to the clearnet sink, in the same SMTP transaction as a clearnet recipient.
          { name: SERVFAIL_DOMAIN, type: 'MX', ttl: 300, data: { preference: 10, exchange: `mx.${CLEARNET_DOMAIN}` } },
          { name: SILENT_DOMAIN, type: 'MX', ttl: 300, data: { preference: 10, exchange: `mx.${CLEARNET_DOMAIN}` } },
        ],
      },
    ],
    // Only the daemon's SRV question fails; Sendmail's own MX and A lookups are answered.
    behaviour: (q) => {
      const name = q.name.toLowerCase();
      if (q.type === 'SRV' && name === `_onion-mx._tcp.${SERVFAIL_DOMAIN}`) return { kind: 'servfail' };
      if (q.type === 'SRV' && name === `_onion-mx._tcp.${SILENT_DOMAIN}`) return { kind: 'drop' };
      return { kind: 'zone', ad: true };
    },
  });
  cleanups.push(() => dns.close());
  const resolver = await startTorDns({ address: '127.0.0.1', port: 53, upstream: { address: '127.0.0.1', port: dns.port }, firstAddress: '10.192.0.1' });
  cleanups.push(() => resolver.close());
  const onionSink = await startSink();
  cleanups.push(() => onionSink.close());
  const clearnetSink = await startSink();
  cleanups.push(() => clearnetSink.close());
  const mx = await forward(CLEARNET_MX_ADDRESS, 25, clearnetSink.port);
  cleanups.push(() => new Promise<void>((r) => mx.close(() => { r(); })));
  const tor = await startFakeTor({ routes: { [`${ONION}:25`]: { host: '127.0.0.1', port: onionSink.port } } });
  cleanups.push(() => tor.close());
  const torsocksConf = join(dir, 'torsocks.conf');
  writeFileSync(torsocksConf, `TorAddress 127.0.0.1\nTorPort ${tor.port}\nOnionAddrRange 127.42.42.0/24\n`);

  const configPath = join(dir, 'config.yml');
  writeFileSync(
    configPath,
    exampleConfig({
      'milter.listen': `unix:${join(dir, 'milter.sock')}`,
      'milter.submission_listen': null,
      'milter.socket_group': null,
      'milter.mixed_routes': 'allow',
      'header.format': 'domain-list',
      'policy.route_mailers': ['smtp', 'esmtp', 'relay', 'smtptor'],
      'lookup.sendmail': `unix:${join(dir, 'sendmail.sock')}`,
      'dns.servers': [{ address: '127.0.0.1', port: dns.port }],
      bundled_map: false,
      'tor.socks': `127.0.0.1:${tor.port}`,
      'log.level': 'info',
    }),
  );
  let daemon: DaemonProcess = await startDaemon(configPath);
  cleanups.push(async () => {
    await daemon.stop();
  });

  const mc = readFileSync(SENDMAIL_EXAMPLE_MC, 'utf8').replaceAll('/run/onionmx-milter/', `${dir}/`).replaceAll('/usr/local/lib/onionmx-milter/onion-smtp-relay', ONION_RELAY);
  const sendmail = await startSendmail({ install: sendmailInstall(), mc, agentEnv: { TORSOCKS_CONF_FILE: torsocksConf } });
  cleanups.push(() => sendmail.stop());

  const sinks: Record<string, Sink> = { onion: onionSink, clearnet: clearnetSink };
  const sinkOf = (name: string): Sink => {
    const s = sinks[name];
    if (s === undefined) throw new Error(`no sink ${name}`);
    return s;
  };
  serveRpc(
    {
      info: () => ({ port: sendmail.port }),
      smtp: (envelope: Envelope): Promise<TransactionResult> => sendSmtp(sendmail.port, envelope),
      /** One command at a time; each reply (code 0 once the server has closed the connection). */
      smtpDialog: async (lines: string[]): Promise<SmtpReply[]> => {
        const session = await openSmtp(sendmail.port);
        const replies: SmtpReply[] = [];
        for (const line of lines) replies.push(await session.command(line).catch(() => ({ code: 0, lines: [], raw: '(connection closed)' })));
        session.destroy();
        return replies;
      },
      /** `sendmail -C submit.cf <args>`, input on stdin: the MSP, as `sendmail -t` runs on a stock install. */
      msp: (args: string[], input = ''): Promise<RunResult> => sendmail.submit(args, input),
      /** `sendmail -C sendmail.cf <args>`: the MTA's own configuration (`-bp`, or `-Am` style submission). */
      mta: (args: string[], input = ''): Promise<RunResult> => sendmail.run(args, input),
      waitForMessage: (sink: string, subject: string): Promise<SinkMessage> => sinkOf(sink).waitForMessage((m) => m.data.includes(`Subject: ${subject}\r\n`)),
      messages: (sink: string): readonly SinkMessage[] => sinkOf(sink).messages,
      upstreamDnsQueries: (): string[] => dns.queries.map((q) => `${q.name.toLowerCase()} ${q.type}`),
      resolverQuestions: (): readonly string[] => resolver.questions,
      socksRequests: () => tor.requests.map((r) => ({ command: r.command, atyp: r.atyp, destination: r.destination, rep: r.rep })),
      sendmailOutput: (): string => sendmail.output(),
      cf: (): string => readFileSync(sendmail.cfFile, 'utf8'),
      daemonLog: () => daemon.lines,
      stopDaemon: async (): Promise<void> => {
        await daemon.stop();
      },
      startDaemon: async (): Promise<void> => {
        daemon = await startDaemon(configPath);
      },
    },
    cleanups,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`sendmail lab failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
