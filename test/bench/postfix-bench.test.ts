// bench:postfix: its pure parts, and the premise of its comparison on a real Postfix: the milter
// path really goes through our daemon and milter_header_checks FILTER, the plain path does not,
// both end at the sink, and the check that guards every measured burst can fail.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { needPrograms, needRoot, findProgram } from '../helpers/system.ts';
import { parseProcStat, runBurst, smtpSourceArgs, processGroupCpuMs, type BurstSpec } from './postfix-burst.ts';
import { BENCH_DOMAIN, BENCH_ONION, startRig, verifyBurst, type BenchPath, type PostfixRig } from './postfix-rig.ts';
import { SinkCounterParser } from './postfix-sink.ts';
import { median, roundOrder, throughputRatios } from './postfix-stats.ts';

describe('bench:postfix pure parts', () => {
  test('smtp-sink counters are read whatever the chunking', () => {
    const stream = 'sess=0 quit=0 mesg=1\rsess=1 quit=1 mesg=1\rsess=1 quit=1 mesg=2\rsess=2 quit=2 mesg=12\r';
    for (let cut = 0; cut <= stream.length; cut++) {
      const parser = new SinkCounterParser();
      parser.feed(stream.slice(0, cut));
      assert.equal(parser.feed(stream.slice(cut)), 12, `cut at ${cut}`);
    }
    const partial = new SinkCounterParser();
    assert.equal(partial.feed('sess=0 quit=0 mesg=3\rsess=0 quit=0 mesg=4'), 3, 'an unterminated update is not counted yet');
    assert.equal(partial.feed('\n'), 4);
  });

  test('median, ratios against the baseline, rotating order', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.ok(Number.isNaN(median([])));
    const runs = [
      { round: 1, path: 'milter', seconds: 4 },
      { round: 1, path: 'plain', seconds: 2 },
      { round: 2, path: 'plain', seconds: 3 },
      { round: 2, path: 'milter', seconds: 3 },
      { round: 3, path: 'plain', seconds: 4 },
    ];
    const r = throughputRatios(runs, 'milter', 'plain');
    assert.equal(r.ofMedians, 3 / 3.5);
    assert.deepEqual(r.perRound.slice(0, 2), [0.5, 1]);
    assert.ok(Number.isNaN(r.perRound[2]), 'a round without the measured path has no ratio');
    assert.deepEqual(roundOrder(['a', 'b', 'c'], 1), ['a', 'b', 'c']);
    assert.deepEqual(roundOrder(['a', 'b', 'c'], 2), ['b', 'c', 'a']);
    assert.deepEqual(roundOrder(['a', 'b'], 4), ['b', 'a']);
  });

  test('/proc/stat: busy and idle jiffies of all CPUs', () => {
    const text = 'cpu  100 5 50 800 20 1 2 3 0 0\ncpu0 50 2 25 400 10 0 1 1 0 0\n';
    assert.deepEqual(parseProcStat(text), { total: 981, idle: 820 });
  });

  test('smtp-source arguments', () => {
    const spec: BurstSpec = { smtpSource: 'x', port: 2525, messages: 7, sessions: 3, size: 100, reuse: false, recipient: 'u@d.example', timeoutMs: 1 };
    const args = smtpSourceArgs(spec);
    assert.deepEqual(args.slice(0, 6), ['-m', '7', '-s', '3', '-l', '100']);
    assert.ok(!args.includes('-d'));
    assert.ok(smtpSourceArgs({ ...spec, reuse: true }).includes('-d'));
    assert.equal(args.at(-1), '127.0.0.1:2525');
    assert.equal(args[args.indexOf('-t') + 1], 'u@d.example');
  });
});

const skip = needRoot() || needPrograms('postfix', 'postconf', 'postqueue', 'sendmail', 'smtp-source', 'smtp-sink');

describe('bench:postfix rig on a real Postfix', { skip }, () => {
  let rig: PostfixRig | undefined;
  const messages = 20;

  before(async () => {
    const smtpSink = findProgram('smtp-sink');
    const postconf = findProgram('postconf');
    assert.ok(smtpSink !== undefined && postconf !== undefined);
    rig = await startRig({ smtpSink, postconf });
  });
  after(async () => {
    await rig?.close();
  });

  const burst = async (path: BenchPath): Promise<number> => {
    assert.ok(rig !== undefined);
    const smtpSource = findProgram('smtp-source');
    assert.ok(smtpSource !== undefined);
    const port = rig.ports[path];
    assert.ok(port !== undefined);
    const mark = await rig.postfix.logMark();
    const before = rig.sink.messages;
    const spec: BurstSpec = { smtpSource, port, messages, sessions: 3, size: 512, reuse: false, recipient: `user@${BENCH_DOMAIN}`, timeoutMs: 60_000 };
    const result = await runBurst(spec, rig.sink, { postfix: () => (rig === undefined ? undefined : processGroupCpuMs(rig.postfixMasterPid)) });
    assert.equal(rig.sink.messages - before, messages, 'the sink counted every message');
    assert.ok(result.seconds > 0 && result.acceptSeconds > 0);
    assert.ok((result.cpuMs['postfix'] ?? -1) >= 0, 'the Postfix process group CPU is readable');
    return mark;
  };

  test('milter path: every message tagged by our daemon and routed by FILTER to the sink', async () => {
    assert.ok(rig !== undefined);
    const mark = await burst('milter');
    await verifyBurst(rig, 'milter', mark, messages);
    await assert.rejects(verifyBurst(rig, 'plain', mark, messages), /FILTER-routed/, 'the check notices tagged mail on the plain path');
    // The daemon writes its log in batches, at least every 200 ms: wait (boundedly) for the last ones.
    const routedLines = (): number => (rig?.daemonLog() ?? '').split('\n').filter((l) => l.includes('"message routed"') && l.includes(`smtptor:[${BENCH_ONION}]:25`)).length;
    for (let i = 0; i < 100 && routedLines() < messages; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(routedLines(), messages, 'the daemon logged one routed message per message');
  });

  test('plain path: nothing tagged, same sink', async () => {
    assert.ok(rig !== undefined);
    const mark = await burst('plain');
    await verifyBurst(rig, 'plain', mark, messages);
    await assert.rejects(verifyBurst(rig, 'milter', mark, messages), /FILTER-routed/, 'the check notices untagged mail on the milter path');
  });

  test('the pinned bench domain costs the daemon no DNS query', () => {
    assert.equal(rig?.dnsQueries(), 0);
  });
});
