// The relay's inbound session against a fake upstream half: what it advertises, pipelined commands
// answered in order while the work runs in parallel, RCPT order per destination, LMTP's
// per-recipient replies, SMTP's one-destination rule, DATA refusals, backpressure, the MTA
// vanishing mid-DATA, routing refusals, bad input (right replies, zero begin() calls), limits,
// idle timeout and drain.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FakeUpstreams, GO_AHEAD, OK, failure, gate, reply } from '../../helpers/fake-upstreams.ts';
import { A, B, C, codeOf, crlf, route, standardResolver, startSession } from '../relay-fixtures.ts';
import type { SmtpReply } from '../../../src/relay/envelope.ts';

const MESSAGE = crlf('From: s@example.org', 'X-Onion-Route: smtptor:[x.onion]:25', 'Subject: hi', '', 'body', '..dot', '.');
const DELIVERED = crlf('From: s@example.org', 'Subject: hi', '', 'body', '..dot');

describe('relay session: LMTP', () => {
  it('greets and advertises what the relay takes, never STARTTLS or CHUNKING', async () => {
    const h = startSession({ upstreams: new FakeUpstreams() });
    h.send(crlf('LHLO mta.test'));
    const [greeting] = h.transport.replies;
    assert.equal(greeting?.code, 220);
    assert.match(greeting?.lines[0] ?? '', /^relay\.test LMTP/);
    const [ehlo] = await h.replies(1);
    assert.deepEqual(ehlo, { code: 250, lines: ['relay.test', 'PIPELINING', 'ENHANCEDSTATUSCODES', '8BITMIME', 'SMTPUTF8', 'DSN', 'SIZE 10000000', 'XFORWARD NAME ADDR PROTO HELO IDENT'] });
  });

  it('delivers to two onions in parallel and answers each recipient with its own onion final reply, in RCPT order', async () => {
    const up = new FakeUpstreams({
      [A]: { end: () => reply(250, '2.0.0 Ok: queued as AAA') },
      [B]: { end: () => reply(250, '2.6.0 queued as BBB') },
    });
    const h = startSession({ upstreams: up });
    h.send(crlf('LHLO mta.test', 'XFORWARD NAME=localhost ADDR=127.0.0.1 IDENT=4XbT2k0Yz7', 'MAIL FROM:<s@example.org> BODY=8BITMIME', 'RCPT TO:<a@one.example>', 'RCPT TO:<b@two.example>', 'RCPT TO:<c@also-one.example>', 'DATA'));
    assert.deepEqual(await h.codes(7), ['250', '250 2.0.0', '250 2.1.0', '250 2.0.0', '250 2.0.0', '250 2.0.0', '354']);
    h.send(MESSAGE);
    const finals = await h.replies(3, 8);
    assert.deepEqual(
      finals.map((r) => r.lines[0]),
      ['2.0.0 Ok: queued as AAA', '2.6.0 queued as BBB', '2.0.0 Ok: queued as AAA'],
    );
    assert.equal(up.transactions.length, 2, 'one upstream transaction per destination');
    for (const tx of up.transactions) {
      assert.equal(tx.message, DELIVERED, 'routing header deleted, dot-stuffing kept');
      assert.deepEqual(tx.violations, []);
    }
    assert.deepEqual(up.ops('rcpt', A).map((c) => c.arg), ['a@one.example', 'c@also-one.example']);
    await up.waitFor(() => up.ops('release').length === 2);
    assert.equal(up.beginOptions[0]?.queueId, '4XbT2k0Yz7');
    const report = h.reports[0];
    assert.equal(report?.queueId, '4XbT2k0Yz7');
    assert.deepEqual(report?.recipients.map((r) => [r.domain, r.onion, r.outcome]), [
      ['one.example', `${A}:25`, 'delivered'],
      ['two.example', `${B}:25`, 'delivered'],
      ['also-one.example', `${A}:25`, 'delivered'],
    ]);
    const info = h.lines.find((l) => l['msg'] === 'relay delivery');
    assert.equal(info?.['qid'], '4XbT2k0Yz7');
    assert.ok(!JSON.stringify(info).includes('a@one.example'), 'no addresses at info');
    assert.ok(JSON.stringify(h.lines.find((l) => l['msg'] === 'relay delivery addresses')).includes('a@one.example'));
  });

  it('answers pipelined commands in order while a slow onion does not hold up the others', async () => {
    const slowRcpt = gate<SmtpReply>();
    const up = new FakeUpstreams({ [A]: { rcpt: () => slowRcpt.promise } });
    const h = startSession({ upstreams: up });
    h.send(crlf('LHLO mta.test', 'MAIL FROM:<s@example.org>', 'RCPT TO:<a@one.example>', 'RCPT TO:<b@two.example>', 'NOOP'));
    // B is opened and asked while A's RCPT is still waiting.
    await up.waitFor(() => up.ops('rcpt', B).length === 1);
    // The replies to a pipelined group leave together, once the last of them is known.
    assert.equal(h.transport.replies.length, 1, 'nothing is answered before A has answered');
    slowRcpt.open(reply(451, '4.3.0 try later'));
    assert.deepEqual(await h.codes(5), ['250', '250 2.1.0', '451 4.3.0', '250 2.0.0', '250 2.0.0']);
  });

  it('sends RCPTs to one destination in RCPT order, one at a time without PIPELINING, even when the first waits for DNS', async () => {
    const resolver = standardResolver();
    const up = new FakeUpstreams({ [A]: { capabilities: { pipelining: false } } });
    const h = startSession({ upstreams: up, resolver });
    h.send(crlf('LHLO mta.test', 'MAIL FROM:<s@example.org>', 'RCPT TO:<first@slow.example>', 'RCPT TO:<second@one.example>', 'RCPT TO:<third@one.example>'));
    assert.deepEqual(resolver.lookups, ['slow.example']);
    assert.equal(up.ops('begin').length, 0, 'joins wait for the earlier recipient');
    resolver.release('slow.example', route('slow.example', [{ onion: A, port: 25 }]));
    assert.deepEqual(await h.codes(3, 3), ['250 2.0.0', '250 2.0.0', '250 2.0.0']);
    assert.deepEqual(up.ops('rcpt', A).map((c) => c.arg), ['first@slow.example', 'second@one.example', 'third@one.example']);
    assert.deepEqual(up.transactions[0]?.violations, [], 'no overlapping commands');
  });

  it('passes the remote 550 for one recipient at RCPT and gives the other its own final reply', async () => {
    const up = new FakeUpstreams({ [A]: { rcpt: (c) => (c.forwardPath.startsWith('gone') ? reply(550, '5.1.1 <gone@one.example>: user unknown') : OK) } });
    const h = startSession({ upstreams: up });
    h.send(crlf('LHLO mta.test', 'MAIL FROM:<s@example.org>', 'RCPT TO:<gone@one.example>', 'RCPT TO:<here@one.example>', 'DATA'));
    const r = await h.replies(5);
    assert.deepEqual(r.map(codeOf), ['250', '250 2.1.0', '550 5.1.1', '250 2.0.0', '354']);
    assert.equal(r[2]?.lines[0], '5.1.1 <gone@one.example>: user unknown', "the onion's own text");
    h.send(MESSAGE);
    assert.deepEqual(await h.codes(1, 6), ['250 2.0.0']);
    h.send(crlf('NOOP'));
    assert.deepEqual(await h.codes(1, 7), ['250 2.0.0'], 'exactly one final reply: one accepted recipient');
    assert.deepEqual(h.reports[0]?.recipients.map((x) => x.outcome), ['bounced', 'delivered']);
  });

  it('gives each destination its own DATA refusal or final reply', async () => {
    const up = new FakeUpstreams({
      [A]: { data: () => reply(554, '5.7.1 no data for you') },
      [B]: { end: () => reply(451, '4.3.0 queue full') },
      [C]: {},
    });
    const h = startSession({ upstreams: up });
    h.send(crlf('LHLO mta.test', 'MAIL FROM:<s@example.org>', 'RCPT TO:<a@one.example>', 'RCPT TO:<b@two.example>', 'RCPT TO:<c@three.example>', 'DATA'));
    assert.equal((await h.replies(6))[5]?.code, 354);
    h.send(MESSAGE);
    assert.deepEqual(await h.codes(3, 7), ['554 5.7.1', '451 4.3.0', '250 2.0.0']);
    const [ta, tb, tc] = up.transactions;
    assert.equal(ta?.chunks.length, 0, 'no bytes to the destination that refused DATA');
    assert.equal(tb?.message, DELIVERED);
    assert.equal(tc?.message, DELIVERED);
    assert.deepEqual(h.reports[0]?.recipients.map((x) => x.outcome), ['bounced', 'deferred', 'delivered']);
  });

  it('answers DATA itself when every destination refused it, a temporary refusal first', async () => {
    const up = new FakeUpstreams({ [A]: { data: () => reply(554, '5.7.1 no') }, [B]: { data: () => reply(451, '4.3.0 later') } });
    const h = startSession({ upstreams: up });
    h.send(crlf('LHLO mta.test', 'MAIL FROM:<s@example.org>', 'RCPT TO:<a@one.example>', 'RCPT TO:<b@two.example>', 'DATA', 'RSET'));
    assert.deepEqual(await h.codes(6), ['250', '250 2.1.0', '250 2.0.0', '250 2.0.0', '451 4.3.0', '250 2.0.0']);
    await up.waitFor(() => up.ops('release').length === 2);
  });

  it('refuses DATA with 503 when no recipient was accepted (RFC 2033) and opens nothing for refused routes', async () => {
    const up = new FakeUpstreams();
    const h = startSession({ upstreams: up });
    h.send(crlf('LHLO mta.test', 'MAIL FROM:<s@example.org>', 'RCPT TO:<u@clear.example>', 'RCPT TO:<u@broken.example>', `RCPT TO:<u@bad${'a'.repeat(53)}.onion>`, 'DATA'));
    const r = await h.replies(6);
    assert.deepEqual(r.map(codeOf), ['250', '250 2.1.0', '451 4.4.4', '451 4.4.3', '550 5.1.2', '503 5.5.1']);
    assert.match(r[2]?.lines[0] ?? '', /No onion route for clear\.example at delivery time \(nxdomain\); this relay never delivers over the clearnet/);
    assert.match(r[3]?.lines[0] ?? '', /servfail: all servers failed/);
    assert.equal(up.calls.length, 0);
    assert.deepEqual(h.reports[0]?.recipients.map((x) => x.outcome), ['deferred', 'deferred', 'bounced']);
  });

  it("relays Tor's failure per destination with the code in the report", async () => {
    const up = new FakeUpstreams({
      [A]: { begin: () => failure(451, '4.4.1 Tor: onion service introduction failed (F2)', 'F2') },
      [B]: { begin: () => failure(550, '5.1.2 Tor: invalid onion address (F6)', 'F6') },
    });
    const h = startSession({ upstreams: up });
    h.send(crlf('LHLO mta.test', 'MAIL FROM:<s@example.org>', 'RCPT TO:<a@one.example>', 'RCPT TO:<b@two.example>', 'QUIT'));
    assert.deepEqual(await h.codes(5), ['250', '250 2.1.0', '451 4.4.1', '550 5.1.2', '221 2.0.0']);
    await h.transport.until(() => h.reports.length === 1);
    assert.deepEqual(h.reports[0]?.recipients.map((x) => [x.torCode, x.outcome]), [['F2', 'deferred'], ['F6', 'bounced']]);
  });

  it('answers every RCPT to a destination whose MAIL was refused with that refusal, RCPTs pipelined behind MAIL only with PIPELINING', async () => {
    for (const pipelining of [true, false]) {
      const up = new FakeUpstreams({ [A]: { mail: () => reply(553, '5.6.7 SMTPUTF8 not supported'), capabilities: { pipelining } } });
      const h = startSession({ upstreams: up });
      h.send(crlf('LHLO mta.test', 'MAIL FROM:<s@example.org> SMTPUTF8', 'RCPT TO:<a@one.example>', 'RCPT TO:<b@one.example>', 'RSET'));
      assert.deepEqual(await h.codes(5), ['250', '250 2.1.0', '553 5.6.7', '553 5.6.7', '250 2.0.0'], `pipelining ${pipelining}`);
      // RFC 2920: to a PIPELINING server the RCPTs went out behind MAIL before its reply; otherwise none is sent.
      assert.equal(up.ops('rcpt').length, pipelining ? 2 : 0);
      await up.waitFor(() => up.ops('release').length === 1);
    }
  });

  it('passes the envelope parameters on to the upstream half', async () => {
    const seen: unknown[] = [];
    const up = new FakeUpstreams({
      [A]: {
        mail: (c) => {
          seen.push(c);
          return OK;
        },
        rcpt: (c) => {
          seen.push(c);
          return OK;
        },
      },
    });
    const h = startSession({ upstreams: up });
    h.send(crlf('LHLO mta.test', 'MAIL FROM:<jörg@example.org> SMTPUTF8 BODY=8BITMIME SIZE=100 RET=HDRS ENVID=Q+2Bx', 'RCPT TO:<zoë@one.example> NOTIFY=SUCCESS,FAILURE ORCPT=utf-8;zoë@one.example'));
    await h.replies(3);
    assert.deepEqual(seen, [
      { reversePath: 'jörg@example.org', params: { smtputf8: true, body: '8BITMIME', size: 100, ret: 'HDRS', envid: 'Q+2Bx' } },
      { forwardPath: 'zoë@one.example', params: { notify: ['SUCCESS', 'FAILURE'], orcpt: 'utf-8;zoë@one.example' } },
    ]);
  });

  it('keeps reading commands pipelined behind the final dot', async () => {
    const up = new FakeUpstreams();
    const h = startSession({ upstreams: up });
    h.send(crlf('LHLO mta.test', 'MAIL FROM:<s@example.org>', 'RCPT TO:<a@one.example>', 'DATA'));
    await h.replies(4);
    h.send(MESSAGE + crlf('MAIL FROM:<t@example.org>', 'RCPT TO:<b@two.example>', 'DATA'));
    assert.deepEqual(await h.codes(4, 5), ['250 2.0.0', '250 2.1.0', '250 2.0.0', '354']);
    h.send(crlf('second', '.', 'QUIT'));
    assert.deepEqual(await h.codes(2, 9), ['250 2.0.0', '221 2.0.0']);
    assert.equal(up.transactions[1]?.message, 'second\r\n');
  });
});

describe('relay session: SMTP', () => {
  it('holds one destination per transaction: a second one gets 452 4.5.3 and opens nothing', async () => {
    const up = new FakeUpstreams();
    const h = startSession({ kind: 'smtp', upstreams: up });
    h.send(crlf('EHLO mta.test', 'MAIL FROM:<s@example.org>', 'RCPT TO:<a@one.example>', 'RCPT TO:<b@two.example>', 'RCPT TO:<c@also-one.example>', 'DATA'));
    assert.deepEqual(await h.codes(6), ['250', '250 2.1.0', '250 2.0.0', '452 4.5.3', '250 2.0.0', '354']);
    assert.deepEqual(up.ops('begin').map((c) => c.onion), [A]);
    h.send(MESSAGE);
    assert.deepEqual(await h.codes(1, 7), ['250 2.0.0']);
    h.send(crlf('QUIT'));
    assert.deepEqual(await h.codes(1, 8), ['221 2.0.0'], 'one reply for the message');
  });

  it('refuses LHLO on the SMTP listener and EHLO on the LMTP one', async () => {
    const smtp = startSession({ kind: 'smtp', upstreams: new FakeUpstreams() });
    smtp.send(crlf('LHLO x', 'HELO x', 'MAIL FROM:<s@example.org> SIZE=1', 'MAIL FROM:<s@example.org>', 'DATA'));
    assert.deepEqual(await smtp.codes(5), ['500 5.5.1', '250', '555 5.5.4', '250 2.1.0', '554 5.5.1']);
    const lmtp = startSession({ upstreams: new FakeUpstreams() });
    lmtp.send(crlf('EHLO x', 'HELO x', 'MAIL FROM:<s@example.org>'));
    assert.deepEqual(await lmtp.codes(3), ['500 5.5.1', '500 5.5.1', '503 5.5.1']);
  });
});

describe('relay session: data path', () => {
  it('pauses reading from the MTA while an upstream is not drained, and resumes after', async () => {
    const up = new FakeUpstreams({ [A]: { highWaterMark: 10 } });
    const h = startSession({ upstreams: up });
    h.send(crlf('LHLO mta.test', 'MAIL FROM:<s@example.org>', 'RCPT TO:<a@one.example>', 'RCPT TO:<b@two.example>', 'DATA'));
    await h.replies(5);
    h.send(crlf('Subject: a long enough line'));
    assert.equal(h.transport.paused, true);
    const tx = up.transactions.find((t) => t.destination.onion === A);
    assert.ok(tx?.drainPending);
    tx.drain();
    await h.transport.until(() => !h.transport.paused);
    h.send(crlf('', 'x', '.'));
    assert.deepEqual(await h.codes(2, 6), ['250 2.0.0', '250 2.0.0']);
  });

  it('aborts every upstream transaction (no final dot) when the MTA vanishes mid-DATA', async () => {
    for (const how of ['lost', 'half-close'] as const) {
      const up = new FakeUpstreams();
      const h = startSession({ upstreams: up });
      h.send(crlf('LHLO mta.test', 'MAIL FROM:<s@example.org>', 'RCPT TO:<a@one.example>', 'RCPT TO:<b@two.example>', 'DATA'));
      await h.replies(5);
      h.send(crlf('Subject: cut', '', 'partial'));
      if (how === 'lost') h.session.lost();
      else h.session.inputEnded();
      await h.done();
      assert.deepEqual(up.transactions.map((t) => t.state), ['aborted', 'aborted'], how);
      assert.equal(up.ops('end').length, 0);
      assert.equal(h.reports[0]?.aborted, 'lost');
      assert.deepEqual(h.reports[0]?.recipients.map((r) => r.outcome), ['deferred', 'deferred']);
    }
  });

  it('refuses a message with a bare LF: the upstream is aborted, never completed, every recipient told 554 5.6.0', async () => {
    const up = new FakeUpstreams();
    const h = startSession({ upstreams: up });
    h.send(crlf('LHLO mta.test', 'MAIL FROM:<s@example.org>', 'RCPT TO:<a@one.example>', 'RCPT TO:<b@two.example>', 'DATA'));
    await h.replies(5);
    h.send('Subject: x\r\n\r\nline\n.\nMAIL FROM:<evil@example.org>\r\n.\r\n');
    assert.deepEqual(await h.codes(2, 6), ['554 5.6.0', '554 5.6.0']);
    assert.deepEqual(up.transactions.map((t) => t.state), ['aborted', 'aborted']);
    assert.ok(up.transactions.every((t) => !t.message.includes('\n.\n') && !t.message.includes('evil')));
    assert.equal(up.ops('end').length, 0);
  });

  it('refuses SIZE over the limit at MAIL and a message over the limit after the dot', async () => {
    const up = new FakeUpstreams();
    const h = startSession({ upstreams: up, settings: { maxMessageSize: 20 } });
    h.send(crlf('LHLO mta.test', 'MAIL FROM:<s@example.org> SIZE=21', 'MAIL FROM:<s@example.org>', 'RCPT TO:<a@one.example>', 'DATA'));
    assert.deepEqual(await h.codes(5), ['250', '552 5.3.4', '250 2.1.0', '250 2.0.0', '354']);
    h.send(crlf('Subject: far too long for the limit', '.'));
    assert.deepEqual(await h.codes(1, 6), ['552 5.3.4']);
    assert.equal(up.transactions[0]?.state, 'aborted');
  });
});

describe('relay session: bad input and limits', () => {
  it('answers garbage, overlong lines, bare LF and out-of-order commands, and opens no upstream', async () => {
    const up = new FakeUpstreams();
    const h = startSession({ upstreams: up });
    h.send(
      Buffer.concat([
        Buffer.from(crlf('MAIL FROM:<s@example.org>', 'LHLO mta.test', 'RCPT TO:<a@one.example>', 'DATA', 'GARBAGE', 'STARTTLS', `NOOP ${'x'.repeat(3000)}`)),
        Buffer.from('NOOP\nRSET\r\nMAIL FROM:<s@example.org>\r\nXFORWARD IDENT=x\r\nMAIL FROM:<t@example.org>\r\nRCPT TO:<a@[127.0.0.1]>\r\nRCPT TO:<x y@one.example>\r\nRCPT TO:<Postmaster>\r\nVRFY a@one.example\r\nHELP\r\n'),
      ]),
    );
    assert.deepEqual(await h.codes(17), [
      '503 5.5.1', // MAIL before LHLO
      '250',
      '503 5.5.1', // RCPT before MAIL
      '503 5.5.1', // DATA before MAIL
      '500 5.5.1',
      '502 5.5.1',
      '500 5.5.2', // overlong
      '500 5.5.2', // bare LF
      '250 2.0.0',
      '250 2.1.0',
      '503 5.5.1', // XFORWARD inside a transaction
      '503 5.5.1', // nested MAIL
      '550 5.1.2',
      '501 5.1.3',
      '550 5.1.1',
      '252 2.0.0',
      '214 2.0.0',
    ]);
    assert.equal(up.calls.length, 0);
  });

  it('gives up with 421 after too many errors from pipelined junk', async () => {
    const up = new FakeUpstreams();
    const h = startSession({ upstreams: up });
    h.send(crlf(...Array.from({ length: 50 }, (_, i) => `JUNK ${i}`)));
    await h.done();
    const codes = h.transport.replies.slice(1).map(codeOf);
    assert.equal(codes.length, 21);
    assert.deepEqual(codes.slice(-2), ['500 5.5.1', '421 4.7.0']);
    assert.equal(h.transport.closed, true);
  });

  it('refuses recipients beyond the limit with 452 4.5.3', async () => {
    const h = startSession({ upstreams: new FakeUpstreams(), settings: { maxRecipients: 2 } });
    h.send(crlf('LHLO mta.test', 'MAIL FROM:<s@example.org>', 'RCPT TO:<a@one.example>', 'RCPT TO:<b@one.example>', 'RCPT TO:<c@one.example>'));
    assert.deepEqual(await h.codes(5), ['250', '250 2.1.0', '250 2.0.0', '250 2.0.0', '452 4.5.3']);
  });

  it('stops reading when too many replies are owed, and reads on when they have gone out', async () => {
    const slow = gate<SmtpReply>();
    const up = new FakeUpstreams({ [A]: { rcpt: () => slow.promise } });
    const h = startSession({ upstreams: up, settings: { maxRecipients: 1000 } });
    h.send(crlf('LHLO mta.test', 'MAIL FROM:<s@example.org>', ...Array.from({ length: 300 }, (_, i) => `RCPT TO:<r${i}@one.example>`)));
    assert.equal(h.transport.paused, true);
    slow.open(OK);
    await h.transport.until(() => !h.transport.paused);
    assert.equal((await h.replies(302)).length, 302);
  });

  it('closes an idle connection with 421 4.4.2 and gives the upstream session back', async () => {
    const up = new FakeUpstreams();
    const h = startSession({ upstreams: up, idleTimeoutMs: 20 });
    h.send(crlf('LHLO mta.test', 'MAIL FROM:<s@example.org>', 'RCPT TO:<a@one.example>'));
    await h.done();
    assert.deepEqual(h.transport.replies.slice(1).map(codeOf), ['250', '250 2.1.0', '250 2.0.0', '421 4.4.2']);
    await up.waitFor(() => up.ops('release').length === 1);
  });

  it('aborts the upstream when the MTA stalls inside DATA', async () => {
    const up = new FakeUpstreams();
    const h = startSession({ upstreams: up, idleTimeoutMs: 20 });
    h.send(crlf('LHLO mta.test', 'MAIL FROM:<s@example.org>', 'RCPT TO:<a@one.example>', 'DATA', 'Subject: stalled'));
    await h.done();
    assert.equal(h.transport.replies.at(-1)?.code, 421);
    assert.equal(up.transactions[0]?.state, 'aborted');
  });

  it('lets a transaction in flight finish on drain, then says 421 4.3.2', async () => {
    const up = new FakeUpstreams();
    const h = startSession({ upstreams: up });
    h.send(crlf('LHLO mta.test', 'MAIL FROM:<s@example.org>', 'RCPT TO:<a@one.example>', 'DATA'));
    await h.replies(4);
    h.session.drain();
    h.send(MESSAGE);
    await h.done();
    assert.deepEqual(h.transport.replies.slice(5).map(codeOf), ['250 2.0.0', '421 4.3.2']);
    assert.equal(up.transactions[0]?.state, 'released');
    const idle = startSession({ upstreams: new FakeUpstreams() });
    idle.send(crlf('LHLO mta.test'));
    await idle.replies(1);
    idle.session.drain();
    await idle.done();
    assert.equal(codeOf(idle.transport.replies.at(-1) ?? OK), '421 4.3.2');
  });

  it('when the grace runs out, answers every reply still owed 451 4.3.2, then 421 4.3.2, and closes', async () => {
    // After the dot: one onion answered, the other not yet; LMTP owes a reply per recipient.
    const hang = gate<SmtpReply>();
    const up = new FakeUpstreams({ [A]: { end: () => hang.promise } });
    const h = startSession({ upstreams: up });
    h.send(crlf('LHLO mta.test', 'MAIL FROM:<s@example.org>', 'RCPT TO:<a@one.example>', 'RCPT TO:<b@two.example>', 'DATA'));
    await h.replies(5);
    h.send(MESSAGE);
    await up.waitFor(() => up.ops('end').length === 2);
    h.session.drain();
    h.session.abandon();
    await h.done();
    assert.deepEqual(h.transport.replies.slice(6).map(codeOf), ['451 4.3.2', '451 4.3.2', '421 4.3.2']);
    assert.ok(h.transport.closed);
    // A reply arriving afterwards changes nothing on the closed connection.
    hang.open(OK);
    await up.waitFor(() => up.ops('release').length === 2);
    assert.equal(h.transport.replies.length, 9);

    // Before the dot: the replies that are ready go out as they are, the RCPT still waiting on its onion gets 451.
    const slow = gate<SmtpReply>();
    const envelope = startSession({ upstreams: new FakeUpstreams({ [A]: { rcpt: () => slow.promise } }) });
    envelope.send(crlf('LHLO mta.test', 'MAIL FROM:<s@example.org>', 'RCPT TO:<a@one.example>', 'DATA'));
    envelope.session.abandon();
    await envelope.done();
    assert.deepEqual(envelope.transport.replies.slice(1).map(codeOf), ['250', '250 2.1.0', '451 4.3.2', '451 4.3.2', '421 4.3.2']);

    // Inside DATA the MTA is not reading replies: closed without one, the upstream aborted (no dot).
    const inData = new FakeUpstreams();
    const streaming = startSession({ upstreams: inData });
    streaming.send(crlf('LHLO mta.test', 'MAIL FROM:<s@example.org>', 'RCPT TO:<a@one.example>', 'DATA', 'Subject: cut'));
    await streaming.replies(4);
    streaming.session.abandon();
    await streaming.done();
    assert.equal(streaming.transport.replies.length, 5);
    assert.deepEqual(inData.transactions.map((t) => t.state), ['aborted']);
    assert.equal(inData.ops('end').length, 0);
  });

  it('lets an RCPT pipelined before RSET get its true answer, then releases', async () => {
    const resolver = standardResolver();
    const up = new FakeUpstreams();
    const h = startSession({ upstreams: up, resolver });
    h.send(crlf('LHLO mta.test', 'MAIL FROM:<s@example.org>', 'RCPT TO:<a@later.example>', 'RSET'));
    resolver.release('later.example', route('later.example', [{ onion: B, port: 25 }]));
    assert.deepEqual(await h.codes(2, 3), ['250 2.0.0', '250 2.0.0']);
    await up.waitFor(() => up.ops('release').length === 1);
    assert.deepEqual(up.transactions[0]?.violations, []);
  });

  it('gives the go-ahead only once the barrier is passed', async () => {
    const slowData = gate<SmtpReply>();
    const up = new FakeUpstreams({ [A]: { data: () => slowData.promise } });
    const h = startSession({ upstreams: up });
    h.send(crlf('LHLO mta.test', 'MAIL FROM:<s@example.org>', 'RCPT TO:<a@one.example>', 'DATA'));
    await up.waitFor(() => up.ops('data').length === 1);
    assert.equal(h.transport.replies.length, 1, 'the group is answered once DATA has its reply');
    slowData.open(GO_AHEAD);
    assert.deepEqual(await h.codes(4), ['250', '250 2.1.0', '250 2.0.0', '354']);
  });
});
