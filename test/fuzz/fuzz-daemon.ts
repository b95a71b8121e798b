// The daemon under fuzz: the real Daemon (routing filter, resolver, all four lookup faces) built
// from examples/config.yml with loopback listeners, a pin map and an in-process DNS server (one
// SRV domain, NXDOMAIN elsewhere, and trouble: see troubledDns). Its log is counted, not printed: the oracles read the counts.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { parseConfigText } from '../../src/config/load.ts';
import { Daemon, type DaemonListeners } from '../../src/daemon/daemon.ts';
import { MilterClient, type Modification } from '../../src/milter/index.ts';
import { exampleConfig } from '../helpers/e2e-daemon.ts';
import { startDnsServer, type DnsTestServer, type FixtureReply, type ReceivedQuery } from '../helpers/dns-server.ts';
import type { MilterDomains } from './milter-cases.ts';

export const ONION_PINNED = 'aj3nsqqcksrrc5cye5etjsoewz6jrygpekzwoko3q6wyxjlb3dgasfid.onion';
export const ONION_SRV = 'llqiiswupgezsco4ux47cco3bxsaihbss5c3piefv6bhvpgfofyk7kad.onion';
const SLOW_DOMAIN = 'slow.example';
const SERVFAIL_DOMAIN = 'servfail.example';
export const DOMAINS: MilterDomains = { pinned: 'pinned.example', srv: 'srv.example', clearnet: 'clearnet.example', troubled: [SLOW_DOMAIN, SERVFAIL_DOMAIN] };

/** Log lines that mean a bug, whatever the input: an error the code did not classify. */
const BUG_MESSAGES = /^(unexpected error|lookup request failed)/;

export interface LogCounts {
  readonly byMsg: Map<string, number>;
  /** Lines matching BUG_MESSAGES (kept, at most 20). */
  readonly bugs: Record<string, unknown>[];
  bugCount: number;
}

/**
 * DNS with trouble, decided by the name (so a seed gives the same answers whatever the order):
 * slow.example is never answered (the lookup runs into its deadline while the MTA keeps sending),
 * servfail.example fails, and about one other name in ten is dropped, failed, garbled or truncated.
 */
function troubledDns(q: ReceivedQuery): FixtureReply {
  const name = q.name.toLowerCase();
  if (name.endsWith(SLOW_DOMAIN)) return { kind: 'drop' };
  if (name.endsWith(SERVFAIL_DOMAIN)) return { kind: 'servfail' };
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
  switch (h % 40) {
    case 0:
      return { kind: 'drop' };
    case 1:
    case 2:
      return { kind: 'servfail' };
    case 3:
      return { kind: 'garbage' };
    case 4:
      return { kind: 'truncated', ad: true };
    default:
      return { kind: 'zone', ad: true };
  }
}

export interface FuzzDaemon {
  readonly daemon: Daemon;
  readonly listeners: DaemonListeners;
  readonly log: LogCounts;
  readonly dns: DnsTestServer;
  /** Idle timeout of milter and lookup connections (ms): a stalled sender is closed after it. */
  readonly idleTimeoutMs: number;
  openConnections(): number;
  close(): Promise<void>;
}

export async function startFuzzDaemon(options: { readonly idleTimeoutMs?: number } = {}): Promise<FuzzDaemon> {
  const idleTimeoutMs = options.idleTimeoutMs ?? 2000;
  const dir = mkdtempSync(join(tmpdir(), 'onionmx-fuzz-'));
  const pins = join(dir, 'pins.yml');
  writeFileSync(pins, `${DOMAINS.pinned}: ${ONION_PINNED}\n`);
  const dns = await startDnsServer({
    zones: [
      { origin: 'srv.example', soa: { ttl: 60, minimum: 60 }, records: [{ name: `_onion-mx._tcp.${DOMAINS.srv}`, type: 'SRV', ttl: 3600, data: { priority: 0, weight: 1, port: 25, target: ONION_SRV } }] },
      { origin: 'example', soa: { ttl: 60, minimum: 60 }, records: [] },
    ],
    behaviour: troubledDns,
  });
  const text = exampleConfig({
    'milter.listen': 'inet:127.0.0.1:0',
    'milter.submission_listen': null,
    'milter.socket_group': null,
    'milter.idle_timeout': `${idleTimeoutMs}ms`,
    'milter.mixed_routes': 'allow',
    maps: [pins],
    // Routes spelled per onion (smtptor:[<onion>]:25), as the expectations below are written.
    'header.transport': 'smtptor',
    'relay.postfix_nexthop': null,
    bundled_map: false,
    'dns.servers': [`127.0.0.1:${dns.port}`],
    'dns.timeout': '500ms',
    'dns.deadline': '1s',
    // Random domains must not grow the cache without bound: memory is one of the oracles.
    'cache.max_entries': 2000,
    'lookup.socketmap': 'inet:127.0.0.1:0',
    'lookup.tcp_table': 'inet:127.0.0.1:0',
    'lookup.sendmail': 'inet:127.0.0.1:0',
    'lookup.readsocket': 'inet:127.0.0.1:0',
    'log.level': 'warn',
  });
  const parsed = parseConfigText(text, 'fuzz-config.yml');
  if (!parsed.ok) throw new Error(`fuzz config: ${JSON.stringify(parsed.problems)}`);
  const log: LogCounts = { byMsg: new Map(), bugs: [], bugCount: 0 };
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line === '') continue;
        const obj = JSON.parse(line) as Record<string, unknown>;
        const msg = String(obj['msg']);
        log.byMsg.set(msg, (log.byMsg.get(msg) ?? 0) + 1);
        if (BUG_MESSAGES.test(msg) || obj['level'] === 50) {
          log.bugCount++;
          if (log.bugs.length < 20) log.bugs.push(obj);
        }
      }
      done();
    },
  });
  const daemon = new Daemon(parsed.config, pino({ level: 'warn' }, sink));
  let listeners: DaemonListeners;
  try {
    listeners = await daemon.start();
  } catch (err) {
    await dns.close();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    daemon,
    listeners,
    log,
    dns,
    idleTimeoutMs,
    openConnections: () => {
      const health = daemon.healthReport();
      return typeof health['milterConnectionsOpen'] === 'number' ? health['milterConnectionsOpen'] : 0;
    },
    close: async () => {
      await daemon.close(1000);
      await dns.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * One well-formed transaction with a forged routing header: recipients at the pinned and SRV
 * domains (same message, mixed_routes allow) and a clearnet one. What the daemon must answer.
 */
export async function validTransaction(spec: string): Promise<readonly Modification[]> {
  const client = await MilterClient.connect(spec);
  try {
    await client.negotiate();
    await client.connect('client.example', 'inet', 40000, '192.0.2.9');
    await client.helo('client.example');
    client.macro('M', { i: 'FUZZQID1' });
    await client.mailFrom('<sender@client.example>');
    for (const rcpt of [`<a@${DOMAINS.pinned}>`, `<b@${DOMAINS.pinned}>`]) {
      client.macro('R', { '{rcpt_mailer}': 'smtp' });
      const r = await client.rcptTo(rcpt);
      if (r.kind !== 'continue' && r.kind !== 'noReply') throw new Error(`RCPT ${rcpt}: ${JSON.stringify(r)}`);
    }
    await client.header('From', 'sender@client.example');
    await client.header('X-Onion-Route', 'smtptor:[forged.onion]:25');
    await client.header('x-onion-route', 'second forgery');
    await client.endOfHeaders();
    await client.body(Buffer.from('hello\r\n'));
    const eom = await client.endOfMessage();
    if (eom.reply.kind !== 'continue' && eom.reply.kind !== 'accept') throw new Error(`EOM: ${JSON.stringify(eom.reply)}`);
    return eom.modifications;
  } finally {
    await client.quit();
  }
}

/** What validTransaction must get: both forged copies deleted, one header with the pinned route. */
export const EXPECTED_MODIFICATIONS: readonly Modification[] = [
  { kind: 'changeHeader', index: 2, name: 'X-Onion-Route', value: '' },
  { kind: 'changeHeader', index: 1, name: 'X-Onion-Route', value: '' },
  { kind: 'addHeader', name: 'X-Onion-Route', value: `smtptor:[${ONION_PINNED}]:25` },
];
