// One upstream session against the Tor stand-in and an SMTP sink: the bytes and parameters that
// reach the onion, STARTTLS per mode, the remote's replies passed on, Tor's codes and the
// session's own failures turned into replies.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { isolationUsername } from '../../../src/tor/socks-connect.ts';
import { socksReplyInfo } from '../../../src/tor/socks-reply.ts';
import { TOR_FAILURE_REPLIES } from '../../../src/relay/upstream/tor-replies.ts';
import { createUpstreams } from '../../../src/relay/upstream/index.ts';
import { freePort } from '../../helpers/ports.ts';
import { startLab, deliver, begun, inData, enhanced, text, ONION, OTHER, MESSAGE, type Lab } from './lab.ts';

function useLab(): () => Lab {
  let lab: Lab | undefined;
  before(async () => {
    lab = await startLab();
  });
  after(async () => {
    await lab?.close();
  });
  return () => {
    assert.ok(lab !== undefined);
    return lab;
  };
}

describe('upstream session: what reaches the onion', () => {
  const lab = useLab();

  it('connects by name with the onion as its own isolation username', async () => {
    const { target } = await lab().sink();
    const up = lab().upstreams();
    const before = lab().tor.requests.length;
    const { end } = await deliver(up, [target]);
    assert.equal(end?.code, 250);
    const request = lab().tor.requests[before];
    assert.ok(request !== undefined);
    assert.equal(request.atyp, 3, 'host name, never resolved locally');
    assert.equal(request.host, ONION);
    assert.equal(request.username, isolationUsername(ONION));
    const other = await lab().sink({}, OTHER);
    await deliver(up, [other.target]);
    const second = lab().tor.requests.at(-1);
    assert.equal(second?.username, isolationUsername(OTHER));
    assert.notEqual(second?.username, request.username);
  });

  it('dot-stuffed 8-bit data arrives byte-exact, however it is chunked', async () => {
    const { sink, target } = await lab().sink();
    const up = lab().upstreams();
    const message = Buffer.concat([
      Buffer.from('Subject: =?utf-8?q?x?=\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n'),
      Buffer.from('.starts with a dot\r\n..two dots\r\n.\r\nGrüße, \u00e9t\u00e9\r\n', 'utf8'),
      Buffer.from([0x80, 0xff, 0x00, 0x0d, 0x41, 0x0d, 0x0a]),
      Buffer.from('end\r\n'),
    ]);
    const wire = Buffer.from(message.toString('latin1').replace(/^\./gm, '..'), 'latin1');
    const chunks = [wire.subarray(0, 1), wire.subarray(1, 70), wire.subarray(70, wire.length - 1), wire.subarray(wire.length - 1)];
    const { end } = await deliver(up, [target], { chunks, mailParams: { body: '8BITMIME' } });
    assert.equal(end?.code, 250);
    const [m] = await sink.waitForMessages(1);
    assert.ok(m !== undefined);
    assert.ok(m.bytes.equals(message), `got ${JSON.stringify(m.bytes.toString('latin1'))}`);
    assert.equal(m.size, message.length);
    assert.equal(m.sha256, createHash('sha256').update(message).digest('hex'));
  });

  it('a message without a final line end gets one before the dot; an empty message is just the dot', async () => {
    const { sink, target } = await lab().sink();
    const up = lab().upstreams();
    await deliver(up, [target], { chunks: [Buffer.from('Subject: x\r\n\r\nno newline')] });
    await deliver(up, [target], { chunks: [] });
    await sink.waitForMessages(2);
    assert.equal(sink.messages[0]?.data, 'Subject: x\r\n\r\nno newline\r\n');
    assert.equal(sink.messages[1]?.data, '');
  });

  it('passes SIZE, BODY, SMTPUTF8 and the DSN parameters to a server that offers them', async () => {
    const { sink, target } = await lab().sink({ capabilities: { size: 100_000, eightBitMime: true, smtpUtf8: true, dsn: true, pipelining: true } });
    const up = lab().upstreams();
    const { end, transaction } = await deliver(up, [target], {
      from: 'jörg@exämple.org',
      mailParams: { size: 1234, body: '8BITMIME', smtputf8: true, ret: 'HDRS', envid: 'QQ314159+2B' },
      to: [{ address: 'zoë@example.net', params: { notify: ['SUCCESS', 'FAILURE'], orcpt: 'utf-8;zo\\x{00EB}@example.net' } }],
    });
    assert.equal(end?.code, 250);
    assert.equal(transaction.capabilities.dsn, true);
    assert.equal(transaction.capabilities.size, 100_000);
    const [m] = await sink.waitForMessages(1);
    assert.equal(m?.from, 'jörg@exämple.org');
    assert.deepEqual(m?.mailParams, ['SIZE=1234', 'BODY=8BITMIME', 'SMTPUTF8', 'RET=HDRS', 'ENVID=QQ314159+2B']);
    assert.deepEqual(m?.recipients, [{ address: 'zoë@example.net', params: ['NOTIFY=SUCCESS,FAILURE', 'ORCPT=utf-8;zo\\x{00EB}@example.net'] }]);
  });

  it('drops DSN parameters and SIZE for a server that offers neither (a strict server would refuse them)', async () => {
    const { sink, target } = await lab().sink({ capabilities: { eightBitMime: true } });
    const up = lab().upstreams();
    const { end } = await deliver(up, [target], {
      mailParams: { size: 10, body: '8BITMIME', ret: 'FULL', envid: 'x' },
      to: [{ address: 'r@example.net', params: { notify: ['NEVER'], orcpt: 'rfc822;r@example.net' } }],
    });
    assert.equal(end?.code, 250);
    const [m] = await sink.waitForMessages(1);
    assert.deepEqual(m?.mailParams, ['BODY=8BITMIME']);
    assert.deepEqual(m?.recipients[0]?.params, []);
  });

  const refusals = [
    { name: 'SMTPUTF8 needed but not offered', caps: { eightBitMime: true }, params: { smtputf8: true as const }, code: 553, enhanced: '5.6.7' },
    { name: '8-bit body without 8BITMIME', caps: { smtpUtf8: true }, params: { body: '8BITMIME' as const }, code: 554, enhanced: '5.6.3' },
    { name: 'SIZE above the limit', caps: { size: 100 }, params: { size: 101 }, code: 552, enhanced: '5.3.4' },
  ];
  for (const r of refusals) {
    it(`${r.name}: ${r.code} ${r.enhanced} and no MAIL sent; the session stays usable`, async () => {
      const { sink, target } = await lab().sink({ capabilities: r.caps });
      const up = lab().upstreams();
      const { mail, transaction } = await deliver(up, [target], { mailParams: r.params });
      assert.equal(mail.code, r.code);
      assert.equal(enhanced(mail), r.enhanced);
      assert.equal(transaction.reused, false);
      await deliver(up, [target]);
      await sink.waitForMessages(1);
      assert.equal(sink.connectionCount, 1, 'the refused message cost no session');
      assert.deepEqual(sink.connections[0]?.commands.filter((c) => c.startsWith('MAIL')), ['MAIL FROM:<sender@example.org>']);
    });
  }

  it('falls back to HELO when EHLO is refused, and then uses no extension', async () => {
    const { sink, target } = await lab().sink({ capabilities: { ehlo: false, eightBitMime: true, smtpUtf8: true } });
    const up = lab().upstreams({ heloName: 'relay.example.org' });
    const { end, transaction } = await deliver(up, [target], { mailParams: { size: 5 } });
    assert.equal(end?.code, 250);
    assert.equal(transaction.capabilities.pipelining, false);
    assert.equal(transaction.capabilities.smtpUtf8, false);
    const [m] = await sink.waitForMessages(1);
    assert.equal(m?.helo, 'relay.example.org');
    assert.deepEqual(sink.connections[0]?.commands.slice(0, 2), ['EHLO relay.example.org', 'HELO relay.example.org']);
  });

  it('pipelines RCPTs to a PIPELINING server; replies stay with their recipients', async () => {
    const { sink, target } = await lab().sink({ rcptReply: (to) => (to === 'bad@example.net' ? '550 5.1.1 <bad@example.net>: no such user' : undefined) });
    const up = lab().upstreams();
    const tx = begun(await up.begin([target]));
    assert.equal((await tx.mail({ reversePath: 's@example.org', params: {} })).code, 250);
    const replies = await Promise.all(['a@example.net', 'bad@example.net', 'b@example.net'].map((to) => tx.rcpt({ forwardPath: to, params: {} })));
    assert.deepEqual(replies.map((r) => r.code), [250, 550, 250]);
    assert.deepEqual(replies[1], { code: 550, lines: ['5.1.1 <bad@example.net>: no such user'] });
    assert.equal((await tx.data()).code, 354);
    tx.write(MESSAGE);
    assert.equal((await tx.end()).code, 250);
    tx.release();
    const [m] = await sink.waitForMessages(1);
    assert.deepEqual(m?.to, ['a@example.net', 'b@example.net']);
  });

  it("passes the remote's own replies through, and a 451 at end of data leaves the session usable", async () => {
    const { sink, target } = await lab().sink({ dataEndReply: (_m, attempt) => (attempt === 0 ? '451 4.3.0 Temporary failure, try again' : undefined) });
    const up = lab().upstreams();
    const first = await deliver(up, [target]);
    assert.deepEqual(first.end, { code: 451, lines: ['4.3.0 Temporary failure, try again'] });
    const second = await deliver(up, [target]);
    assert.equal(second.end?.code, 250);
    assert.equal(second.transaction.reused, true);
    assert.equal(sink.messages.length, 1, 'delivered once');
    assert.equal(sink.attempts, 2);
  });

  it('never pipelines anything behind the final dot, QUITs only after its reply, and never half-closes', async () => {
    const { sink, target } = await lab().sink({ dataEndReply: () => ({ delayMs: 100 }) });
    const up = lab().upstreams();
    const tx = await inData(up, [target]);
    tx.write(MESSAGE);
    // Done with it and shutting down while the final reply is still outstanding: the QUIT must wait.
    const ending = tx.end();
    tx.release();
    const closing = up.close(5_000);
    assert.equal((await ending).code, 250);
    await closing;
    await sink.waitUntil(() => sink.connections[0]?.closed === true);
    const c = sink.connections[0];
    assert.deepEqual(c?.sentWhileReplyHeld, []);
    assert.equal(c?.commands.at(-1), 'QUIT');
    assert.equal(c?.clientEnded, false, 'no FIN from the relay before the server closed');
    assert.equal(sink.messages.length, 1);
  });

  it('a remote that hangs after the final dot: data_done timeout, 4xx naming the onion, session discarded', async () => {
    const { sink, target } = await lab().sink({ dataEndReply: (_m, attempt) => (attempt === 0 ? { hang: true } : undefined) });
    const up = lab().upstreams({ timeouts: { dataDoneMs: 150 } });
    const { end } = await deliver(up, [target]);
    assert.ok(end !== undefined);
    assert.equal(end.code, 451);
    assert.equal(enhanced(end), '4.4.2');
    assert.match(text(end), new RegExp(`Timeout after 150 ms waiting for the reply to end of data from ${target.onion}:${target.port}`));
    await sink.waitUntil(() => sink.connections[0]?.closed === true);
    assert.equal(up.openCount, 0);
    assert.equal((await deliver(up, [target])).end?.code, 250);
    assert.equal(sink.connectionCount, 2, 'a fresh session for the next message');
  });

  it('a connection lost while waiting for a reply becomes 451 4.4.2 naming the command', async () => {
    const { sink, target } = await lab().sink({ dataEndReply: () => ({ hang: true }) });
    const up = lab().upstreams();
    const tx = await inData(up, [target]);
    tx.write(MESSAGE);
    const ending = tx.end();
    await sink.waitUntil(() => sink.attempts === 1);
    await sink.close();
    const end = await ending;
    assert.equal(end.code, 451);
    assert.equal(enhanced(end), '4.4.2');
    assert.match(text(end), /lost while waiting for the reply to end of data/);
    tx.release();
    assert.equal(up.openCount, 0);
  });

  it('a server that stops reading the message: data_block timeout on the drain, 4xx at end, session discarded', async () => {
    const { sink, target } = await lab().sink({ stallData: true });
    const up = lab().upstreams({ timeouts: { dataBlockMs: 100 } });
    const tx = await inData(up, [target]);
    // More than every socket buffer between here and the stalled server can hold.
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    for (let i = 0; i < 1024; i++) if (!tx.write(chunk)) await tx.drained();
    const end = await tx.end();
    assert.equal(end.code, 451);
    assert.match(text(end), /^451 4\.4\.2 Timeout after 100 ms while sending the message data/);
    tx.release();
    assert.equal(up.openCount, 0);
    // The stalled server reads nothing more, so it never sees the end of the message.
    assert.equal(sink.attempts, 0);
  });

  it('a 421 to a command is passed on as 451 and the session is closed, not pooled', async () => {
    const { sink, target } = await lab().sink({ commandReply: (line) => (line.startsWith('MAIL') ? '421 4.3.2 Shutting down' : undefined) });
    const up = lab().upstreams();
    const { mail } = await deliver(up, [target]);
    assert.equal(mail.code, 451);
    assert.equal(mail.lines[0], '4.3.2 Shutting down');
    await sink.waitUntil(() => sink.connections[0]?.closed === true);
    assert.equal(up.idleCount, 0);
    assert.equal(up.openCount, 0);
  });
});

describe('upstream session: greeting and STARTTLS', () => {
  const lab = useLab();

  it('a 421 greeting fails begin with a 4xx that quotes it', async () => {
    const { target } = await lab().sink({ greeting: '421 4.3.2 sink.test busy' });
    const r = await lab().upstreams().begin([target]);
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.equal(r.reply.code, 451);
    assert.equal(enhanced(r.reply), '4.3.2');
    assert.match(text(r.reply), /greeting 421 4\.3\.2 sink\.test busy/);
    assert.equal(r.torCode, undefined);
  });

  it('a 554 greeting fails begin, deferred, after a polite QUIT', async () => {
    const { sink, target } = await lab().sink({ greeting: '554 5.3.2 no service for you' });
    const r = await lab().upstreams().begin([target]);
    assert.equal(r.ok, false);
    if (!r.ok) assert.equal(r.reply.code, 451);
    await sink.waitUntil(() => sink.connections[0]?.closed === true);
    assert.deepEqual(sink.connections[0]?.commands, ['QUIT']);
  });

  const matrix = [
    { mode: 'off', offered: true, tls: false },
    { mode: 'off', offered: false, tls: false },
    { mode: 'opportunistic', offered: true, tls: true },
    { mode: 'opportunistic', offered: false, tls: false },
    { mode: 'required', offered: true, tls: true },
  ] as const;
  for (const m of matrix) {
    it(`starttls ${m.mode}, ${m.offered ? 'offered' : 'not offered'}: delivered ${m.tls ? 'under TLS' : 'in plaintext'}`, async () => {
      const { sink, target } = await lab().sink({ capabilities: { pipelining: true, dsn: true, starttls: m.offered } });
      const up = lab().upstreams({ starttls: m.mode });
      const { end, transaction } = await deliver(up, [target], { to: [{ address: 'r@example.net', params: { notify: ['FAILURE'] } }] });
      assert.equal(end?.code, 250);
      assert.equal(transaction.capabilities.tls, m.tls);
      const [msg] = await sink.waitForMessages(1);
      assert.equal(msg?.tls, m.tls);
      const commands = sink.connections[0]?.commands ?? [];
      assert.equal(commands.includes('STARTTLS'), m.tls);
      // Under TLS the server is asked again, and what it said before is forgotten (RFC 3207 §4.2).
      assert.equal(commands.filter((c) => c.startsWith('EHLO')).length, m.tls ? 2 : 1);
      assert.deepEqual(msg?.recipients[0]?.params, ['NOTIFY=FAILURE']);
    });
  }

  it('starttls required, not offered: 451 4.7.4 and QUIT, nothing sent', async () => {
    const { sink, target } = await lab().sink({ capabilities: { pipelining: true } });
    const r = await lab().upstreams({ starttls: 'required' }).begin([target]);
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.equal(r.reply.code, 451);
    assert.equal(enhanced(r.reply), '4.7.4');
    assert.match(text(r.reply), /does not offer STARTTLS.*required/);
    await sink.waitUntil(() => sink.connections[0]?.closed === true);
    assert.deepEqual(sink.connections[0]?.commands.slice(1), ['QUIT']);
  });

  it('starttls required, STARTTLS refused: 451 4.7.4 quoting the refusal', async () => {
    const { target } = await lab().sink({ capabilities: { starttls: true }, starttlsReply: '454 4.7.0 TLS not available' });
    const r = await lab().upstreams({ starttls: 'required' }).begin([target]);
    assert.equal(r.ok, false);
    if (!r.ok) assert.match(text(r.reply), /^451 4\.7\.4 .*refused STARTTLS: 454 4\.7\.0 TLS not available/);
  });

  it('starttls opportunistic, STARTTLS refused: delivered in plaintext on the same session', async () => {
    const { sink, target } = await lab().sink({ capabilities: { starttls: true }, starttlsReply: '454 4.7.0 TLS not available' });
    const { end } = await deliver(lab().upstreams({ starttls: 'opportunistic' }), [target]);
    assert.equal(end?.code, 250);
    assert.equal(sink.connectionCount, 1);
    assert.equal(sink.messages[0]?.tls, false);
  });

  it('a failed TLS handshake: required defers with 4.7.5; opportunistic retries once in plaintext', async () => {
    // The server says 220 to STARTTLS and then keeps speaking plaintext SMTP: no TLS server hello.
    const broken = { capabilities: { starttls: true }, starttlsReply: '220 2.0.0 go ahead' } as const;
    const required = await lab().sink(broken);
    const r = await lab().upstreams({ starttls: 'required', timeouts: { starttlsMs: 2_000 } }).begin([required.target]);
    assert.equal(r.ok, false);
    if (!r.ok) assert.equal(enhanced(r.reply), '4.7.5', text(r.reply));

    const opportunistic = await lab().sink(broken);
    const connectsBefore = lab().tor.connects(`${opportunistic.target.onion}:${opportunistic.target.port}`);
    const { end } = await deliver(lab().upstreams({ starttls: 'opportunistic', timeouts: { starttlsMs: 2_000 } }), [opportunistic.target]);
    assert.equal(end?.code, 250);
    assert.equal(lab().tor.connects(`${opportunistic.target.onion}:${opportunistic.target.port}`) - connectsBefore, 2);
    assert.equal(opportunistic.sink.messages[0]?.tls, false);
    assert.equal(opportunistic.sink.connections[1]?.commands.includes('STARTTLS'), false);
  });
});

describe("upstream session: Tor's failures", () => {
  const lab = useLab();

  for (const rep of [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7]) {
    const code = socksReplyInfo(rep).code;
    const row = TOR_FAILURE_REPLIES[code];
    it(`Tor answers 0x${code}: ${row?.code} ${row?.enhanced}, Tor's code reported`, async () => {
      const target = { onion: ONION, port: 4000 + rep };
      lab().tor.setReply(`${ONION}:${target.port}`, { kind: 'fail', rep });
      const events: unknown[] = [];
      const up = lab().upstreams({ hooks: { onSession: (e) => events.push(e) } });
      const r = await up.begin([target]);
      assert.equal(r.ok, false);
      if (r.ok) return;
      assert.equal(r.reply.code, row?.code);
      assert.equal(enhanced(r.reply), row?.enhanced);
      assert.equal(r.torCode, code);
      assert.match(text(r.reply), new RegExp(`\\[Tor code ${code}\\]`));
      assert.match(text(r.reply), new RegExp(`${ONION}:${target.port}`));
      assert.equal(events.length, 1);
      assert.deepEqual({ ...(events[0] as object), ms: 0 }, { kind: 'failed', onion: ONION, torCode: code, ms: 0 });
    });
  }

  it('F6 is 550 5.1.2', async () => {
    lab().tor.setReply(`${ONION}:4999`, { kind: 'fail', rep: 0xf6 });
    const r = await lab().upstreams().begin([{ onion: ONION, port: 4999 }]);
    assert.ok(!r.ok && r.reply.code === 550 && enhanced(r.reply) === '5.1.2', JSON.stringify(r));
  });

  it('SocksPort down: "Tor not running or tor.socks wrong" with the endpoint', async () => {
    const port = await freePort();
    const up = createUpstreams({ proxy: { kind: 'tcp', host: '127.0.0.1', port } });
    const r = await up.begin([{ onion: ONION, port: 25 }, { onion: OTHER, port: 25 }]);
    await up.close(0);
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.equal(r.reply.code, 451);
    assert.equal(enhanced(r.reply), '4.4.1');
    assert.match(text(r.reply), new RegExp(`Tor not running or tor\\.socks wrong: cannot reach the Tor SocksPort 127\\.0\\.0\\.1:${port}`));
    assert.equal(r.torCode, 'proxy-unreachable');
    assert.equal(r.reply.lines.length, 1, 'the second hop is not tried: it would meet the same SocksPort');
  });

  it("Tor hangs: our connect timeout, 4.4.1; Tor's 'slow' answer still connects", async () => {
    lab().tor.setReply(`${ONION}:5001`, { kind: 'hang' });
    const hung = await lab().upstreams({ torConnectTimeoutMs: 100 }).begin([{ onion: ONION, port: 5001 }]);
    assert.ok(!hung.ok && hung.torCode === 'timeout' && enhanced(hung.reply) === '4.4.1', JSON.stringify(hung));

    const { target } = await lab().sink();
    lab().tor.setReply(`${target.onion}:${target.port}`, { kind: 'slow', delayMs: 50 });
    assert.equal((await deliver(lab().upstreams(), [target])).end?.code, 250);
  });

  it('a proxy that closes or answers garbage: 4xx configuration problem', async () => {
    lab().tor.setReply(`${ONION}:5002`, { kind: 'close' });
    lab().tor.setReply(`${ONION}:5003`, { kind: 'garbage', bytes: Buffer.from('HTTP/1.0 400 Bad Request\r\n\r\n') });
    const up = lab().upstreams();
    for (const port of [5002, 5003]) {
      const r = await up.begin([{ onion: ONION, port }]);
      assert.ok(!r.ok);
      if (r.ok) continue;
      assert.equal(r.reply.code, 451);
      assert.equal(r.torCode, 'proxy-protocol');
    }
  });

  it('a Tor failure on the first hop tries the next; the transaction names the hop that answered', async () => {
    const { sink, target } = await lab().sink();
    const first = { onion: OTHER, port: 5004 };
    lab().tor.setReply(`${OTHER}:5004`, { kind: 'fail', rep: 0xf2 });
    const { end, transaction } = await deliver(lab().upstreams(), [first, target]);
    assert.equal(end?.code, 250);
    assert.deepEqual(transaction.destination, target);
    await sink.waitForMessages(1);
  });

  it('every hop failed: the temporary failure is answered, permanent ones named after it', async () => {
    lab().tor.setReply(`${ONION}:5005`, { kind: 'fail', rep: 0xf6 });
    lab().tor.setReply(`${OTHER}:5006`, { kind: 'fail', rep: 0xf0 });
    const r = await lab().upstreams().begin([{ onion: ONION, port: 5005 }, { onion: OTHER, port: 5006 }]);
    assert.ok(!r.ok);
    if (r.ok) return;
    assert.equal(r.reply.code, 451);
    assert.equal(r.torCode, 'F0');
    assert.equal(r.reply.lines.length, 2);
    assert.match(r.reply.lines[1] ?? '', new RegExp(`^4\\.4\\.3 also tried ${ONION}:5005: 550 `));
  });
});
