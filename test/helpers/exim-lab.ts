// The Exim lab: runs INSIDE a loopback-only network namespace whose /etc/resolv.conf says
// `nameserver 127.0.0.1` (started by exim.test.ts through startNetnsWorker). It hosts, on loopback:
// - the ordinary DNS server (dns-server.ts): SRV for the onion-routed domain, MX + A for the
//   clearnet one; it records every query, so the test can prove no `.onion` name reached it;
// - the Tor DNSPort stand-in on 127.0.0.1:53 (exim-tor-dns.ts): `.onion` -> virtual address
//   from 10.192.0.0/10 (unroutable here: only the SOCKS path can reach it), the rest forwarded;
// - the fake Tor SocksPort (fake-tor.ts), which routes each virtual address, as Tor does, to the
//   onion it stands for, i.e. to the onion's SMTP sink;
// - two SMTP sinks: the onion's, and the clearnet MX (127.0.0.2:25, forwarded to a sink);
// - `onionmx-milter serve` from examples/config.yml with the Exim readsocket server on a unix socket;
// - Exim from examples/exim/exim.conf, with only paths and ports defined in front.
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serveRpc } from './netns-worker.ts';
import { startDnsServer } from './dns-server.ts';
import { startTorDns } from './exim-tor-dns.ts';
import { startFakeTor } from './fake-tor.ts';
import { startSink, type Sink, type SinkMessage } from './smtp-sink.ts';
import { openSmtp, sendSmtp, type Envelope, type TransactionResult } from './smtp-client.ts';
import { exampleConfig, startDaemon } from './e2e-daemon.ts';
import { EXIM_USER, eximBinary } from './exim-install.ts';
import { startExim, type SubmitResult } from './exim.ts';
import { CLEARNET_DOMAIN, EXIM_EXAMPLE, ONION, ONION_DOMAIN, VIRTUAL_FIRST_ADDRESS, type LabInfo } from './exim-lab-fixtures.ts';

const CLEARNET_MX_ADDRESS = '127.0.0.2';

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

async function main(): Promise<void> {
  const cleanups: (() => Promise<void> | void)[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'onionmx-exim-lab-'));
  // Exim runs its ACLs as the Exim user: the lookup socket must be reachable for that group.
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
        ],
      },
    ],
    // Loopback DNS is trusted for AD; the SRV answer counts as DNSSEC-authenticated.
    behaviour: () => ({ kind: 'zone', ad: true }),
  });
  cleanups.push(() => dns.close());
  const onionSink = await startSink();
  cleanups.push(() => onionSink.close());
  const clearnetSink = await startSink();
  cleanups.push(() => clearnetSink.close());
  const mx = await forward(CLEARNET_MX_ADDRESS, 25, clearnetSink.port);
  cleanups.push(() => new Promise<void>((r) => mx.close(() => { r(); })));

  const tor = await startFakeTor({ routes: { [`${ONION}:25`]: { host: '127.0.0.1', port: onionSink.port } } });
  cleanups.push(() => tor.close());
  const onionRoutes = new Map([[`${ONION}:25`, { host: '127.0.0.1', port: onionSink.port }]]);
  // Tor connects a virtual address to the onion it was handed out for.
  const torDns = await startTorDns({
    address: '127.0.0.1',
    port: 53,
    upstream: { address: '127.0.0.1', port: dns.port },
    firstAddress: VIRTUAL_FIRST_ADDRESS,
    onMap: (onion, address) => {
      const target = onionRoutes.get(`${onion}:25`);
      if (target !== undefined) tor.route(`${address}:25`, target);
    },
  });
  cleanups.push(() => torDns.close());

  const socket = join(dir, 'lookup.sock');
  const configPath = join(dir, 'config.yml');
  writeFileSync(
    configPath,
    exampleConfig({
      'milter.listen': 'inet:127.0.0.1:0',
      'milter.submission_listen': null,
      'milter.socket_group': EXIM_USER,
      'milter.mixed_routes': 'allow',
      'header.format': 'domain-list',
      'lookup.readsocket': `unix:${socket}`,
      'dns.servers': [{ address: '127.0.0.1', port: dns.port }],
      'bundled_map': false,
      'tor.socks': `127.0.0.1:${tor.port}`,
      'log.level': 'info',
    }),
  );
  const daemon = await startDaemon(configPath);
  cleanups.push(async () => {
    await daemon.stop();
  });

  const exim = await startExim({
    binary: eximBinary(),
    config: readFileSync(EXIM_EXAMPLE, 'utf8'),
    macros: { ONIONMX_SOCKET: socket, ONIONMX_TOR_SOCKS: `127.0.0.1 port=${tor.port}` },
  });
  cleanups.push(() => exim.stop());

  const sinks: Record<string, Sink> = { onion: onionSink, clearnet: clearnetSink };
  const sinkOf = (name: string): Sink => {
    const s = sinks[name];
    if (s === undefined) throw new Error(`no sink ${name}`);
    return s;
  };

  serveRpc(
    {
      info: (): LabInfo => ({ eximPort: exim.port, torPort: tor.port }),
      smtp: (envelope: Envelope): Promise<TransactionResult> => sendSmtp(exim.port, envelope),
      /** One command at a time; the reply code of each (0 once the server has closed the connection). */
      smtpDialog: async (lines: string[]): Promise<number[]> => {
        const session = await openSmtp(exim.port);
        const codes: number[] = [];
        for (const line of lines) codes.push(await session.command(line).then((r) => r.code, () => 0));
        session.destroy();
        return codes;
      },
      submit: (args: string[], message: string): Promise<SubmitResult> => exim.submit(args, message),
      waitForMessage: (sink: string, subject: string): Promise<SinkMessage> => sinkOf(sink).waitForMessage((m) => m.data.includes(`\r\nSubject: ${subject}\r\n`) || m.data.startsWith(`Subject: ${subject}\r\n`)),
      messages: (sink: string): readonly SinkMessage[] => sinkOf(sink).messages,
      upstreamDnsQueries: (): string[] => dns.queries.map((q) => `${q.name.toLowerCase()} ${q.type}`),
      torDnsQuestions: (): readonly string[] => torDns.questions,
      mappings: (): [string, string][] => [...torDns.mappings],
      socksRequests: () => tor.requests.map((r) => ({ command: r.command, atyp: r.atyp, destination: r.destination, rep: r.rep })),
      waitForLog: async (pattern: string, since: number): Promise<string> => (await exim.waitForLog(new RegExp(pattern), { since }))[0],
      logMark: (): number => exim.logMark(),
      mainLog: (): string => exim.mainLog(),
      panicLog: (): string => exim.panicLog(),
      exim: (args: string[]): Promise<string> => exim.run(args),
      daemonLog: () => daemon.lines,
      stopDaemon: async (): Promise<void> => {
        await daemon.stop();
      },
    },
    cleanups,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`exim lab failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
