// Real Postfix with transport_maps served by our lookup servers (socketmap: and tcp:), started by
// the daemon from a config, on a resolver with static maps and a loopback DNS fixture:
// - recipients of one message are routed each on their own: onion-routed domains through the
//   `smtptor` transport to `[<onion>]:25` (a list of next hops for several SRV targets), clearnet
//   ones through the default transport to an SMTP sink. `smtptor` is Postfix's discard(8) here,
//   which logs the nexthop it was given as its status text, so no test touches any onion or DNS;
// - a temporary lookup failure defers the recipient (the mail stays queued) and answers 451 at RCPT;
// - Postfix's own table clients (`postmap -q`) get the same answers from both servers, and from
//   the hash file that `onionmx-milter export --format postfix` writes.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { needPrograms, needRoot, findProgram } from '../helpers/system.ts';
import { startPostfix, sinkNexthop, type PostfixInstance } from '../helpers/postfix.ts';
import { startSink, type Sink } from '../helpers/smtp-sink.ts';
import { openSmtp } from '../helpers/smtp-client.ts';
import { buildMessage, headerValues } from '../helpers/smtp-message.ts';
import { startDnsServer, type DnsTestServer } from '../helpers/dns-server.ts';
import { runCli } from '../cli/cli-helpers.ts';
import { Daemon } from '../../src/daemon/daemon.ts';
import { defaults, type Config } from '../../src/config/schema.ts';
import { silentLogger } from '../../src/log.ts';

const skip = needRoot() || needPrograms('postfix', 'postmap', 'postconf', 'postqueue', 'sendmail');

const A = 'pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion';
const B = 'sp3k262uwy4r2k3ycr5awluarykdpag6a7y33jxop4cs2lu5uz5sseqd.onion';
const C = 'xa4r2iadxm55fbnqgwwi5mymqdcofiu3w6rpbtqn7b2dyn7mgwj64jyd.onion';

const srv = (domain: string, priority: number, target: string) => ({ name: `_onion-mx._tcp.${domain}`, type: 'SRV' as const, ttl: 300, data: { priority, weight: 0, port: 25, target } });

function run(file: string, args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
  });
}

describe('real Postfix routing per recipient through our lookup servers', { skip, timeout: 120_000 }, () => {
  let dir: string;
  let dns: DnsTestServer;
  let sink: Sink;
  let daemon: Daemon;
  let socketmapPort: number;
  let tcpPort: number;
  const postmap = findProgram('postmap') ?? 'postmap';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'onionmx-pf-lookup-'));
    await writeFile(join(dir, 'pins.yml'), `static.test: ${A}\nconflict.test: ${A}\n`);
    await writeFile(join(dir, 'more-pins.yml'), `conflict.test: ${B}\n`);
    dns = await startDnsServer({
      zones: [{ origin: 'test', soa: { ttl: 60, minimum: 60 }, records: [srv('multi.test', 10, B), srv('multi.test', 20, C), srv('single.test', 0, C)] }],
      behaviour: () => ({ kind: 'zone', ad: true }),
    });
    sink = await startSink();
    const config: Config = {
      ...defaults,
      milter: { ...defaults.milter, listen: 'inet:127.0.0.1:0' },
      maps: [join(dir, 'pins.yml'), join(dir, 'more-pins.yml')],
      bundledMap: false,
      dns: { ...defaults.dns, servers: [{ address: '127.0.0.1', port: dns.port, trustAd: false }] },
      policy: { ...defaults.policy, localDomains: ['local.test'] },
      // This Postfix's onion transport is a discard(8) service named smtptor.
      header: { ...defaults.header, transport: 'smtptor' },
      lookup: { ...defaults.lookup, socketmap: 'inet:127.0.0.1:0', tcpTable: 'inet:127.0.0.1:0' },
      log: { ...defaults.log, level: 'silent' },
    };
    daemon = new Daemon(config, silentLogger());
    const listeners = await daemon.start();
    socketmapPort = Number(/:(\d+)$/.exec(listeners.lookup.socketmap ?? '')?.[1]);
    tcpPort = Number(/:(\d+)$/.exec(listeners.lookup['tcp-table'] ?? '')?.[1]);
    assert.ok(socketmapPort > 0 && tcpPort > 0);
  });
  after(async () => {
    await daemon.close(1000);
    await sink.close();
    await dns.close();
    await rm(dir, { recursive: true, force: true });
  });

  for (const kind of ['socketmap', 'tcp'] as const) {
    describe(`transport_maps = ${kind}:...`, () => {
      let pf: PostfixInstance;
      const table = (): string => (kind === 'socketmap' ? `socketmap:inet:127.0.0.1:${socketmapPort}:transport` : `tcp:127.0.0.1:${tcpPort}`);

      before(async () => {
        pf = await startPostfix({
          mainCf: { transport_maps: table(), default_transport: 'smtp', relayhost: sinkNexthop(sink.port) },
          // discard(8) logs the nexthop as its status text: the route Postfix took, with no network.
          masterCf: 'smtptor unix - - n - - discard',
        });
      });
      after(async () => {
        await pf.stop();
      });

      it('routes each recipient of one message on its own: onion next hops via smtptor, clearnet via the default transport', async () => {
        const subject = `per-recipient ${kind}`;
        const mark = await pf.logMark();
        await pf.sendmail(['-f', 'alice@sender.test', 'one@Static.TEST', 'two@multi.test', 'three@clear.test', 'four@local.test'], buildMessage([['Subject', subject]]));
        await pf.waitForLog(/to=<one@static\.test>.*status=sent/i, { since: mark });
        await pf.waitForLog(/to=<two@multi\.test>.*status=sent/, { since: mark });
        const log = (await pf.log()).slice(mark);
        assert.match(log, new RegExp(`to=<one@Static\\.TEST>, relay=none, .*status=sent \\(\\[${A}\\]:25\\)`));
        // Several SRV targets: an ordered list of next hops (Postfix 3.5+), priority 10 first.
        assert.match(log, new RegExp(`to=<two@multi\\.test>, relay=none, .*status=sent \\(\\[${B}\\]:25,\\[${C}\\]:25\\)`));
        const m = await sink.waitForMessage((x) => headerValues(x.data, 'Subject')[0] === subject);
        assert.deepEqual([...m.to].sort(), ['four@local.test', 'three@clear.test']);
        await pf.waitForEmptyQueue();
        assert.doesNotMatch(log, /onion.*relay=127\.0\.0\.1/);
      });

      it('defers a recipient whose lookup fails temporarily: the mail stays queued, the log shows why', async () => {
        const mark = await pf.logMark();
        await pf.sendmail(['-f', 'alice@sender.test', 'five@conflict.test'], buildMessage([['Subject', `deferred ${kind}`]]));
        await pf.waitForLog(/to=<five@conflict\.test>.*status=deferred/, { since: mark });
        const queue = await pf.queue();
        const entry = queue.find((q) => q.recipients.some((r) => r.address === 'five@conflict.test'));
        assert.ok(entry, JSON.stringify(queue));
        assert.match(entry.recipients[0]?.delayReason ?? '', /address resolver failure/);
        assert.equal(sink.messages.some((x) => x.to.includes('five@conflict.test')), false);
        await pf.postconf('-e', 'transport_maps='); // stop retrying before the instance is torn down
      });

      it('answers 451 4.3.0 at RCPT for a temporary lookup failure, 250 for the others', async () => {
        const session = await openSmtp(pf.smtpPort);
        await session.ehlo();
        const r = await session.send({ from: 'a@sender.test', to: ['x@conflict.test', 'y@single.test'], message: 'Subject: rcpt\r\n\r\nx\r\n' });
        await session.quit();
        assert.equal(r.rcpts[0]?.reply.code, 451);
        assert.match(r.rcpts[0]?.reply.raw ?? '', /4\.3\.0 .*Temporary lookup failure/);
        assert.equal(r.rcpts[1]?.reply.code, 250);
      });

      it("Postfix's own table client (postmap -q) reads the same answers, keys as Postfix sends them", async () => {
        const q = (key: string) => run(postmap, ['-c', pf.configDir, '-q', key, table()]);
        assert.deepEqual(await q('One@STATIC.test'), { code: 0, stdout: `smtptor:[${A}]:25\n`, stderr: '' });
        assert.equal((await q('x@single.test')).stdout, `smtptor:[${C}]:25\n`);
        assert.equal((await q('*')).code, 1); // not found
        assert.equal((await q('x@clear.test')).code, 1);
        // A temporary failure is a query error for postmap (Postfix itself defers), never not-found.
        const temp = await q('x@conflict.test');
        assert.notEqual(temp.code, 0);
        assert.match(temp.stderr, /query error/);
        if (kind === 'socketmap') assert.match(temp.stderr, /socketmap server temporary error: conflict\.test: conflicting-pins/);
      });
    });
  }

  it('the export for Postfix, fed to postmap, answers the static routes exactly as the servers do', async () => {
    const configFile = join(dir, 'config.yml');
    await writeFile(configFile, `maps:\n  - ${join(dir, 'pins.yml')}\n  - ${join(dir, 'more-pins.yml')}\nbundled_map: false\nheader:\n  transport: smtptor\n`);
    const out = join(dir, 'transport');
    const r = await runCli(['export', '--format', 'postfix', '--config', configFile, '--output', out]);
    assert.equal(r.status, 0, r.stderr);
    const built = await run(postmap, [`hash:${out}`]);
    assert.equal(built.code, 0, built.stderr);
    const fromFile = await run(postmap, ['-q', 'static.test', `hash:${out}`]);
    const fromServer = await run(postmap, ['-q', 'x@static.test', `socketmap:inet:127.0.0.1:${socketmapPort}:transport`]);
    assert.equal(fromFile.stdout, `smtptor:[${A}]:25\n`);
    assert.equal(fromFile.stdout, fromServer.stdout);
    // The conflicting pin is left out of the file (the server defers it), and named in the header.
    assert.equal((await run(postmap, ['-q', 'conflict.test', `hash:${out}`])).code, 1);
    assert.match(await (await import('node:fs/promises')).readFile(out, 'utf8'), /# skipped conflict\.test: pinned to different onions/);
  });
});
