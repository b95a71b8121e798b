// The milter engine against a real Postfix: smtpd_milters and non_smtpd_milters pointing at our
// server, once over inet: with unchrooted daemons, once over a unix: socket inside the queue
// directory with smtpd and cleanup chrooted (the Debian layout). Each suite proves that Postfix
// applies what the filter asks for: added and deleted headers, milter_header_checks FILTER routing,
// a per-recipient reject, sendmail submissions, several transactions on one SMTP connection, and
// that an unreachable filter makes Postfix tempfail (milter_default_action = tempfail).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { needPrograms, needRoot } from '../helpers/system.ts';
import { startPostfix, sinkNexthop, type PostfixInstance } from '../helpers/postfix.ts';
import { startSink, type Sink, type SinkMessage } from '../helpers/smtp-sink.ts';
import { openSmtp, sendSmtp } from '../helpers/smtp-client.ts';
import { buildMessage, headerFields, headerValues } from '../helpers/smtp-message.ts';
import { createTestFilter, type TestFilter } from '../helpers/test-filter.ts';
import { createMilterServer, type MilterServer } from '../../src/milter/index.ts';
import { createLogger } from '../../src/log.ts';

const skip = needRoot() || needPrograms('postfix', 'postconf', 'postqueue', 'sendmail');

interface Variant {
  readonly name: string;
  readonly chroot: boolean;
  /** The smtpd_milters value, given the instance's queue directory. */
  readonly miltersValue: string;
  /** Where our server listens, given the instance's queue directory. */
  listenSpec(queueDir: string): Promise<string>;
}

const SOCKET_DIR = 'onionmx';

const variants: readonly Variant[] = [
  {
    name: 'inet, unchrooted',
    chroot: false,
    miltersValue: '', // filled in after listen: the port is picked by the server
    listenSpec: () => Promise.resolve('inet:127.0.0.1:0'),
  },
  {
    name: 'unix socket in the queue directory, smtpd and cleanup chrooted',
    chroot: true,
    // Chrooted smtpd/cleanup resolve this relative to queue_directory.
    miltersValue: `unix:/${SOCKET_DIR}/milter.sock`,
    async listenSpec(queueDir) {
      await mkdir(join(queueDir, SOCKET_DIR), { mode: 0o755 });
      return `unix:${join(queueDir, SOCKET_DIR, 'milter.sock')}`;
    },
  },
];

for (const variant of variants) {
  describe(`postfix milter: ${variant.name}`, { skip }, () => {
    let sink: Sink;
    let routeSink: Sink;
    let filter: TestFilter;
    let server: MilterServer;
    let pf: PostfixInstance;
    /** Stops what before() started, newest first, even when a later start failed. */
    const cleanups: (() => Promise<void>)[] = [];
    const engineWarnings: string[] = [];
    let serial = 0;
    const subject = (label: string): string => `${label} #${++serial} (${variant.name})`;
    const bySubject = (s: string) => (m: SinkMessage) => headerValues(m.data, 'Subject')[0] === s;

    before(async () => {
      sink = await startSink();
      cleanups.push(() => sink.close());
      routeSink = await startSink();
      cleanups.push(() => routeSink.close());
      filter = createTestFilter();
      const logger = createLogger({
        level: 'warn',
        destination: new Writable({
          write(chunk: Buffer, _enc, done) {
            engineWarnings.push(chunk.toString('utf8'));
            done();
          },
        }),
      });
      server = createMilterServer({ filter: filter.spec, logger, socketMode: 0o660, socketGroup: 'postfix' });
      cleanups.push(() => server.close(1000));

      // The inet server must listen before Postfix starts (its port goes into main.cf); the unix
      // socket lives in the queue directory, which exists only once Postfix has started. Postfix
      // connects to filters per SMTP session, so listening after start is fine.
      let milters = variant.miltersValue;
      if (!variant.chroot) milters = (await server.listen(await variant.listenSpec(''))).spec;
      pf = await startPostfix({
        chroot: variant.chroot,
        mainCf: {
          relay_domains: 'sink.test route.test',
          relayhost: sinkNexthop(sink.port),
          smtpd_milters: milters,
          non_smtpd_milters: milters,
          milter_default_action: 'tempfail',
          milter_protocol: '6',
          milter_header_checks: 'regexp:$config_directory/milter_header_checks',
        },
        files: { milter_header_checks: `/^X-Route-Me: yes$/ FILTER smtp:${sinkNexthop(routeSink.port)}\n` },
      });
      cleanups.push(() => pf.stop());
      if (variant.chroot) await server.listen(await variant.listenSpec(pf.queueDir));
    });

    after(async () => {
      for (const cleanup of cleanups.reverse()) await cleanup();
    });

    it('(a) delivers a message with the header the filter added', async () => {
      const s = subject('add header');
      const result = await sendSmtp(pf.smtpPort, {
        from: 'alice@sender.test',
        to: ['bob@sink.test', 'carol@sink.test'],
        message: buildMessage([['Subject', s]]),
      });
      assert.equal(result.data?.code, 250, result.data?.raw);
      const m = await sink.waitForMessage(bySubject(s));
      assert.deepEqual(headerValues(m.data, 'X-Test-Filter'), ['seen 2 rcpts']);
      assert.deepEqual(headerValues(m.data, 'X-Route-Me'), []);
      assert.deepEqual([...m.to].sort(), ['bob@sink.test', 'carol@sink.test']);
    });

    it('(b) removes every header the filter deletes and keeps the others in order', async () => {
      const s = subject('delete headers');
      await sendSmtp(pf.smtpPort, {
        from: 'alice@sender.test',
        to: ['dave@sink.test'],
        message: buildMessage([
          ['X-Delete-Me', 'first'],
          ['Subject', s],
          ['X-Keep', 'one'],
          ['x-delete-me', 'second, other case'],
          ['X-Keep', 'two'],
          ['X-Delete-Me', 'third'],
        ]),
      });
      const m = await sink.waitForMessage(bySubject(s));
      assert.deepEqual(headerValues(m.data, 'X-Delete-Me'), []);
      assert.deepEqual(headerValues(m.data, 'X-Keep'), ['one', 'two']);
      assert.deepEqual(headerValues(m.data, 'X-Test-Filter'), ['seen 1 rcpts']);
      const names = headerFields(m.data).map((f) => f.name);
      assert.ok(names.indexOf('Subject') < names.indexOf('X-Keep'), names.join(','));
      assert.equal(filter.messages.at(-1)?.deletedHeaders, 3);
    });

    it('(c) routes a message the filter tagged X-Route-Me through milter_header_checks FILTER to the second sink', async () => {
      const routed = subject('routed');
      const plain = subject('plain');
      await sendSmtp(pf.smtpPort, {
        from: 'alice@sender.test',
        to: ['erin@route.test', 'frank@sink.test'],
        message: buildMessage([['Subject', routed]]),
      });
      await sendSmtp(pf.smtpPort, { from: 'alice@sender.test', to: ['gina@sink.test'], message: buildMessage([['Subject', plain]]) });

      const r = await routeSink.waitForMessage(bySubject(routed));
      // FILTER overrides the route of the whole message, so both recipients went to the second sink.
      assert.deepEqual([...r.to].sort(), ['erin@route.test', 'frank@sink.test']);
      assert.deepEqual(headerValues(r.data, 'X-Route-Me'), ['yes']);
      const p = await sink.waitForMessage(bySubject(plain));
      assert.deepEqual(headerValues(p.data, 'X-Route-Me'), []);
      assert.equal(sink.messages.some(bySubject(routed)), false);
      assert.equal(routeSink.messages.some(bySubject(plain)), false);
    });

    it('(d) rejects only the recipient the filter refuses, and delivers to the others', async () => {
      const s = subject('reject one');
      const result = await sendSmtp(pf.smtpPort, {
        from: 'alice@sender.test',
        to: ['henry@sink.test', 'reject-me@sink.test', 'iris@sink.test'],
        message: buildMessage([['Subject', s]]),
      });
      assert.deepEqual(
        result.rcpts.map((r) => [r.address, r.reply.code]),
        [
          ['henry@sink.test', 250],
          ['reject-me@sink.test', 550],
          ['iris@sink.test', 250],
        ],
      );
      const refused = result.rcpts[1]?.reply.raw ?? '';
      assert.match(refused, /^550[ -]5\.7\.1 reject-me@sink\.test is refused by the test filter/);
      assert.equal(result.data?.code, 250, result.data?.raw);

      const m = await sink.waitForMessage(bySubject(s));
      assert.deepEqual([...m.to].sort(), ['henry@sink.test', 'iris@sink.test']);
      assert.deepEqual(headerValues(m.data, 'X-Test-Filter'), ['seen 2 rcpts']);
    });

    it('(e) filters a message submitted with sendmail through non_smtpd_milters (bracket-less addresses)', async () => {
      const s = subject('sendmail');
      await pf.sendmail(
        ['-f', 'kim@sender.test', 'lou@sink.test', 'max@route.test'],
        buildMessage([['Subject', s], ['X-Delete-Me', 'local']]),
      );
      const m = await routeSink.waitForMessage(bySubject(s));
      assert.deepEqual(headerValues(m.data, 'X-Test-Filter'), ['seen 2 rcpts']);
      assert.deepEqual(headerValues(m.data, 'X-Delete-Me'), []);
      assert.deepEqual([...m.to].sort(), ['lou@sink.test', 'max@route.test']);
      const seen = filter.messages.find((f) => f.from === 'kim@sender.test');
      assert.ok(seen !== undefined, 'the filter saw the sendmail message');
      assert.deepEqual(seen.rcpts, ['lou@sink.test', 'max@route.test']);
    });

    it('(f) tags each of two messages sent on one SMTP connection', async () => {
      const first = subject('first of two');
      const second = subject('second of two');
      const before = filter.messages.length;
      const session = await openSmtp(pf.smtpPort);
      try {
        await session.ehlo();
        const r1 = await session.send({
          from: 'nina@sender.test',
          to: ['olga@sink.test', 'paul@sink.test'],
          message: buildMessage([['Subject', first], ['X-Delete-Me', 'x']]),
        });
        const r2 = await session.send({ from: 'nina@sender.test', to: ['quinn@sink.test'], message: buildMessage([['Subject', second]]) });
        assert.equal(r1.data?.code, 250, r1.data?.raw);
        assert.equal(r2.data?.code, 250, r2.data?.raw);
      } finally {
        await session.quit();
      }
      const m1 = await sink.waitForMessage(bySubject(first));
      const m2 = await sink.waitForMessage(bySubject(second));
      assert.deepEqual(headerValues(m1.data, 'X-Test-Filter'), ['seen 2 rcpts']);
      assert.deepEqual(headerValues(m2.data, 'X-Test-Filter'), ['seen 1 rcpts']);
      assert.deepEqual(headerValues(m1.data, 'X-Delete-Me'), []);
      // Both transactions went through the same milter connection (Postfix: one per SMTP session).
      const ours = filter.messages.slice(before);
      assert.equal(ours.length, 2);
      assert.equal(ours[0]?.connectionId, ours[1]?.connectionId);
      assert.deepEqual(ours[1]?.rcpts, ['quinn@sink.test']);
    });

    it('left no milter warnings in the Postfix log and none from the engine', async () => {
      await pf.waitForEmptyQueue();
      const log = await pf.log();
      assert.doesNotMatch(log, /warning: .*milter/i);
      assert.doesNotMatch(log, /(fatal|panic):/);
      assert.deepEqual(engineWarnings, []);
    });

    it('tempfails mail while the filter is unreachable (milter_default_action = tempfail)', async () => {
      await server.close(1000);
      const mark = await pf.logMark();
      const session = await openSmtp(pf.smtpPort);
      try {
        // Postfix delays the reject of the failed CONNECT stage (smtpd_delay_reject): EHLO still
        // gets 250, MAIL gets the default action's 451, and nothing can be queued.
        await session.ehlo();
        const mail = await session.command('MAIL FROM:<ruth@sender.test>');
        const rcpt = await session.command('RCPT TO:<sam@sink.test>');
        assert.match(mail.raw, /^451 4\.7\.1 /);
        assert.notEqual(Math.floor(rcpt.code / 100), 2, rcpt.raw);
      } finally {
        await session.quit();
      }
      await pf.waitForLog(/warning: connect to Milter service \S+: (Connection refused|No such file or directory)/, { since: mark });
      await pf.waitForLog(/NOQUEUE: milter-reject: MAIL from .*451 4\.7\.1 Service unavailable/, { since: mark });
    });
  });
}
