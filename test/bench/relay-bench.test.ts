// bench:relay: its pure parts, and its harness on a real Postfix: a tiny burst down each path (the
// relay, Postfix's smtp under torsocks) reaches the sink through the fake Tor, every message once,
// and the counters the bench reports are readable. Counts only, no durations.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { findProgram, needPrograms, needRoot } from '../helpers/system.ts';
import { runBurst, type BurstSpec } from './postfix-burst.ts';
import { BENCH_ONION } from './postfix-rig.ts';
import { PATH_DOMAIN, PATH_SERVICE, relayProbes, startRelayRig, verifyRelayBurst, type RelayBenchPath, type RelayRig } from './relay-rig.ts';
import { arrivalProblems, parseSinkDump, smtpSourceRecipients } from './sink-dump.ts';

const DUMP = [
  'X-Client-Addr: 127.0.0.1',
  'X-Client-Proto: ESMTP',
  'X-Helo-Args: relay.test',
  'X-Mail-Args: <s@client.example> SIZE=100',
  'X-Rcpt-Args: <1user@d.example> NOTIFY=NEVER',
  'Received: from x',
  '\tby smtp-sink',
  'Message-Id: <a@client.example>',
  '',
  'X-Client-Addr: 127.0.0.1 (a body line that only looks like a new transaction)',
  '',
  'X-Client-Addr: 127.0.0.1',
  'X-Client-Proto: ESMTP',
  'X-Mail-Args: <s@client.example>',
  'X-Rcpt-Args: <2user@d.example>',
  'Message-ID: <b@client.example>',
  '',
  'body',
  '',
].join('\n');

describe('bench:relay pure parts', () => {
  test('the sink dump: one transaction per block, its recipients and Message-Id', () => {
    assert.deepEqual(parseSinkDump(DUMP), [
      { recipients: ['1user@d.example'], messageId: '<a@client.example>' },
      { recipients: ['2user@d.example'], messageId: '<b@client.example>' },
    ]);
    assert.deepEqual(parseSinkDump(''), []);
  });

  test('arrivals: missing, duplicated, unexpected recipients and repeated Message-Ids are problems', () => {
    const expected = smtpSourceRecipients('user@d.example', 2);
    assert.deepEqual(expected, ['1user@d.example', '2user@d.example']);
    const [a, b] = parseSinkDump(DUMP);
    assert.ok(a !== undefined && b !== undefined);
    assert.deepEqual(arrivalProblems([a, b], expected), []);
    assert.match(arrivalProblems([a], expected).join(), /1 never arrived: 2user@d\.example/);
    assert.match(arrivalProblems([a, b, b], expected).join(), /arrived more than once: 2user@d\.example x2/);
    assert.match(arrivalProblems([a, b, b], expected).join(), /Message-Ids seen more than once/);
    assert.match(arrivalProblems([a, { recipients: ['9user@d.example'], messageId: '<c@x>' }], ['1user@d.example']).join(), /1 unexpected: 9user/);
    assert.match(arrivalProblems([{ recipients: ['1user@d.example'], messageId: undefined }], ['1user@d.example']).join(), /without a Message-Id/);
  });
});

const skip = needRoot() || needPrograms('postfix', 'postconf', 'postqueue', 'sendmail', 'smtp-source', 'smtp-sink', 'torsocks');

describe('bench:relay harness on a real Postfix', { skip }, () => {
  let rig: RelayRig | undefined;
  const messages = 5;

  before(async () => {
    const smtpSink = findProgram('smtp-sink');
    const postconf = findProgram('postconf');
    const torsocks = findProgram('torsocks');
    assert.ok(smtpSink !== undefined && postconf !== undefined && torsocks !== undefined);
    rig = await startRelayRig({ smtpSink, postconf, torsocks });
  });
  after(async () => {
    await rig?.close();
  });

  const burst = async (path: RelayBenchPath): Promise<{ connects: number; cpuMs: Readonly<Record<string, number | undefined>> }> => {
    assert.ok(rig !== undefined);
    const smtpSource = findProgram('smtp-source');
    assert.ok(smtpSource !== undefined);
    const recipient = `user@${PATH_DOMAIN[path]}`;
    const marks = { log: await rig.postfix.logMark(), sink: rig.sinkMark() };
    const connectsBefore = rig.tor.connects(`${BENCH_ONION}:25`);
    const sinkBefore = rig.sink.messages;
    const spec: BurstSpec = { smtpSource, port: rig.postfix.smtpPort, messages, sessions: 2, size: 512, reuse: true, recipient, timeoutMs: 60_000 };
    const result = await runBurst(spec, rig.sink, relayProbes(rig));
    await verifyRelayBurst(rig, path, marks, smtpSourceRecipients(recipient, messages));
    assert.equal(rig.sink.messages - sinkBefore, messages, 'the sink counted every message');
    return { connects: rig.tor.connects(`${BENCH_ONION}:25`) - connectsBefore, cpuMs: result.cpuMs };
  };

  test('relay path: Postfix lmtp -> the relay -> SOCKS -> sink, every message once', async () => {
    const { connects, cpuMs } = await burst('relay');
    assert.ok(connects >= 1 && connects <= messages, `${connects} SOCKS CONNECTs`);
    assert.ok((cpuMs['relay'] ?? -1) >= 0 && (cpuMs['lmtp'] ?? -1) >= 0, 'the relay and lmtp CPU are readable');
    // The daemon writes its log in batches, at least every 200 ms: wait (boundedly) for the lines.
    const delivered = (): string[] => (rig?.daemonLog() ?? '').split('\n').filter((l) => l.includes(PATH_DOMAIN.relay));
    for (let i = 0; i < 100 && delivered().length < messages; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(delivered().length, messages, `the relay logged one line per delivery:\n${rig?.daemonLog() ?? ''}`);
  });

  for (const path of ['torsocks', 'torsocks-nocache'] as const) {
    test(`${path} path: Postfix smtp under torsocks -> SOCKS -> sink, every message once`, async () => {
      const { connects, cpuMs } = await burst(path);
      assert.ok(connects >= 1 && connects <= messages, `${connects} SOCKS CONNECTs`);
      assert.ok((cpuMs[PATH_SERVICE[path]] ?? -1) >= 0 && (cpuMs['reaped'] ?? -1) >= 0, 'the smtp and reaped CPU are readable');
      assert.ok(rig !== undefined && rig.tor.requests.every((r) => r.command === 'connect' && r.atyp === 3), 'every stream is a hostname CONNECT');
    });
  }
});
