// Proves the real-Postfix harness itself: an instance starts on loopback, relays to our sink,
// takes sendmail submissions, logs to its own file, runs beside a second instance, and stops
// without leaving processes behind.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { needPrograms, needRoot } from '../helpers/system.ts';
import { startPostfix, sinkNexthop, liveProcessesInGroup, type PostfixInstance } from '../helpers/postfix.ts';
import { startSink, type Sink } from '../helpers/smtp-sink.ts';
import { sendSmtp, openSmtp } from '../helpers/smtp-client.ts';
import { buildMessage, headerValues } from '../helpers/smtp-message.ts';

const skip = needRoot() || needPrograms('postfix', 'postconf', 'postqueue', 'sendmail');

describe('postfix harness', { skip }, () => {
  let sink: Sink;
  let pf: PostfixInstance;
  const cleanups: (() => Promise<void>)[] = [];

  /** A port nothing listens on until the deferred-mail test opens a sink there. */
  let laterPort: number;

  before(async () => {
    sink = await startSink();
    cleanups.push(() => sink.close());
    const placeholder = await startSink();
    laterPort = placeholder.port;
    await placeholder.close();
    pf = await startPostfix({
      mainCf: {
        relay_domains: 'sink.test later.test',
        relayhost: sinkNexthop(sink.port),
        transport_maps: `inline:{ later.test=smtp:${sinkNexthop(laterPort)} }`,
      },
    });
    cleanups.push(() => pf.stop());
  });
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('relays a message received over SMTP to the sink with its envelope intact', async () => {
    const result = await sendSmtp(pf.smtpPort, {
      from: 'alice@sender.test',
      to: ['bob@sink.test', 'carol@sink.test'],
      message: buildMessage([['Subject', 'harness smtp'], ['X-Probe', 'one']], 'line\r\n.leading dot\r\n'),
    });
    assert.equal(result.mail.code, 250);
    assert.deepEqual(result.rcpts.map((r) => r.reply.code), [250, 250]);
    assert.equal(result.data?.code, 250);

    const m = await sink.waitForMessage((x) => headerValues(x.data, 'Subject')[0] === 'harness smtp');
    assert.equal(m.from, 'alice@sender.test');
    assert.deepEqual([...m.to].sort(), ['bob@sink.test', 'carol@sink.test']);
    assert.deepEqual(headerValues(m.data, 'X-Probe'), ['one']);
    assert.match(m.data, /\r\n\r\nline\r\n\.leading dot\r\n$/);
    await pf.waitForEmptyQueue();
  });

  it('takes a sendmail submission for this instance only and logs it to its own maillog', async () => {
    const mark = await pf.logMark();
    await pf.sendmail(['-f', 'dave@sender.test', 'erin@sink.test'], buildMessage([['Subject', 'harness sendmail']]));
    const m = await sink.waitForMessage((x) => headerValues(x.data, 'Subject')[0] === 'harness sendmail');
    assert.equal(m.from, 'dave@sender.test');
    assert.deepEqual(m.to, ['erin@sink.test']);
    await pf.waitForLog(/to=<erin@sink\.test>.*status=sent/, { since: mark });
  });

  it('refuses mail that has no route instead of sending it anywhere', async () => {
    const session = await openSmtp(pf.smtpPort);
    await session.ehlo();
    const result = await session.send({ from: 'a@sender.test', to: ['x@elsewhere.test'], message: 'Subject: x\r\n\r\nx\r\n' });
    await session.quit();
    // smtpd resolves the recipient at RCPT time and refuses what would go to the error transport.
    assert.equal(result.rcpts[0]?.reply.code, 550);
    assert.match(result.rcpts[0]?.reply.raw ?? '', /no route in this test instance/);
    assert.equal(result.data, undefined);
  });

  it('keeps mail for an unreachable sink in the queue, and delivers it after flush once the sink is up', async () => {
    const mark = await pf.logMark();
    await sendSmtp(pf.smtpPort, { from: 'h@sender.test', to: ['i@later.test'], message: 'Subject: later\r\n\r\nx\r\n' });
    await pf.waitForLog(/to=<i@later\.test>.*status=deferred \(connect to .*Connection refused\)/, { since: mark });
    const queued = await pf.queue();
    assert.equal(queued.length, 1);
    assert.equal(queued[0]?.sender, 'h@sender.test');
    assert.equal(queued[0]?.recipients[0]?.address, 'i@later.test');
    assert.match(queued[0]?.recipients[0]?.delayReason ?? '', /Connection refused/);

    const later = await startSink({ port: laterPort });
    cleanups.push(() => later.close());
    await pf.flush();
    const m = await later.waitForMessage((x) => headerValues(x.data, 'Subject')[0] === 'later');
    assert.deepEqual(m.to, ['i@later.test']);
    await pf.waitForEmptyQueue();
  });

  it('runs a second instance side by side, and stop leaves no process and no files', async () => {
    const second = await startPostfix({ mainCf: { relay_domains: 'sink.test', relayhost: sinkNexthop(sink.port) } });
    const pid = Number(readFileSync(`${second.queueDir}/pid/master.pid`, 'utf8').trim());
    try {
      assert.notEqual(second.smtpPort, pf.smtpPort);
      await sendSmtp(second.smtpPort, { from: 'f@sender.test', to: ['g@sink.test'], message: 'Subject: second\r\n\r\nx\r\n' });
      await sink.waitForMessage((x) => headerValues(x.data, 'Subject')[0] === 'second');
      assert.doesNotMatch(await pf.log(), /to=<g@sink\.test>/);
      await second.waitForLog(/to=<g@sink\.test>.*status=sent/);
    } finally {
      await second.stop();
    }
    assert.equal(liveProcessesInGroup(pid), 0);
    assert.equal(existsSync(second.root), false);
    await second.stop(); // idempotent
  });
});
