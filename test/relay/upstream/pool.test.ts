// The pool of upstream sessions: reuse (one rendezvous for a burst), the transparent reopen of a
// session the server closed while idle, idle expiry, the per-onion and total limits, sessions that
// must not be pooled, and close(graceMs).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { UpstreamHooks } from '../../../src/relay/upstream/api.ts';
import { startLab, deliver, begun, transact, inData, enhanced, text, until, OTHER, MESSAGE, type Lab } from './lab.ts';

type SessionEvent = Parameters<NonNullable<UpstreamHooks['onSession']>>[0];

describe('upstream pool', () => {
  let labRef: Lab | undefined;
  before(async () => {
    labRef = await startLab();
  });
  after(async () => {
    await labRef?.close();
  });
  const lab = (): Lab => {
    assert.ok(labRef !== undefined);
    return labRef;
  };
  const destination = (t: { onion: string; port: number }): string => `${t.onion}:${t.port}`;

  it('a burst to one onion pays one rendezvous: one SOCKS connect, one connection, every message once', async () => {
    const { sink, target } = await lab().sink();
    const events: SessionEvent[] = [];
    const up = lab().upstreams({ hooks: { onSession: (e) => events.push(e) } });
    const reused: boolean[] = [];
    for (let i = 0; i < 5; i++) {
      const { end, transaction } = await deliver(up, [target], { chunks: [Buffer.from(`Subject: ${i}\r\n\r\nbody\r\n`)] });
      assert.equal(end?.code, 250);
      reused.push(transaction.reused);
    }
    assert.deepEqual(reused, [false, true, true, true, true]);
    assert.equal(lab().tor.connects(destination(target)), 1);
    assert.equal(sink.connectionCount, 1);
    assert.deepEqual(sink.messages.map((m) => m.data.split('\r\n')[0]), ['Subject: 0', 'Subject: 1', 'Subject: 2', 'Subject: 3', 'Subject: 4']);
    assert.deepEqual(events.map((e) => e.kind), ['new', 'reused', 'reused', 'reused', 'reused']);
    assert.ok(events.every((e) => e.onion === target.onion && e.ms >= 0 && e.torCode === undefined));
    assert.equal(up.idleCount, 1);
    assert.equal(up.openCount, 1);
    // Each reuse starts with RSET, so no state of the last transaction carries over.
    assert.equal(sink.connections[0]?.commands.filter((c) => c === 'RSET').length, 4);
  });

  it('the server closed the idle session: the next message opens a new one, with exactly one new SOCKS connect', async () => {
    const { sink, target } = await lab().sink({ closeAfterTransactions: 1 });
    const up = lab().upstreams();
    assert.equal((await deliver(up, [target])).end?.code, 250);
    await sink.waitUntil(() => sink.connections[0]?.closed === true);
    const second = await deliver(up, [target]);
    assert.equal(second.end?.code, 250);
    assert.equal(second.transaction.reused, false);
    assert.equal(lab().tor.connects(destination(target)), 2);
    assert.equal(sink.messages.length, 2);
  });

  it('RSET on a pooled session fails: replaced once, transparently, before any transaction command', async () => {
    const { sink, target } = await lab().sink({ commandReply: (line, connection) => (line === 'RSET' && connection === 1 ? '421 4.4.2 sink.test closing' : undefined) });
    const events: SessionEvent[] = [];
    const up = lab().upstreams({ hooks: { onSession: (e) => events.push(e) } });
    await deliver(up, [target]);
    const again = await deliver(up, [target]);
    assert.equal(again.mail.code, 250);
    assert.equal(again.end?.code, 250);
    assert.equal(again.transaction.reused, false);
    assert.equal(lab().tor.connects(destination(target)), 2, 'one new connect, not more');
    assert.deepEqual(sink.connections[0]?.commands.slice(-1), ['RSET'], 'nothing of the transaction went to the closing session');
    assert.deepEqual(sink.messages.map((m) => m.connection), [1, 2]);
    assert.deepEqual(events.map((e) => e.kind), ['new', 'new']);
  });

  it('an idle session is QUIT when its idle time is up', async () => {
    const { sink, target } = await lab().sink();
    const up = lab().upstreams({ pool: { idleMs: 30 } });
    await deliver(up, [target]);
    await sink.waitUntil(() => sink.connections[0]?.closed === true);
    assert.equal(sink.connections[0]?.commands.at(-1), 'QUIT');
    assert.equal(sink.connections[0]?.clientEnded, false);
    assert.equal(up.idleCount, 0);
    assert.equal(up.openCount, 0);
  });

  it('a server that drops an idle session (421 on its idle timeout) is noticed and not reused', async () => {
    const { sink, target } = await lab().sink({ idleTimeoutMs: 30 });
    const up = lab().upstreams();
    await deliver(up, [target]);
    await sink.waitUntil(() => sink.connections[0]?.closed === true);
    const again = await deliver(up, [target]);
    assert.equal(again.end?.code, 250);
    assert.equal(sink.messages.length, 2);
  });

  it('per-onion limit: a second transaction waits for the first session and then reuses it', async () => {
    const { sink, target } = await lab().sink();
    const up = lab().upstreams({ pool: { maxPerDestination: 1 } });
    const first = begun(await up.begin([target]));
    let secondBegun = false;
    const second = up.begin([target]).then((r) => {
      secondBegun = true;
      return r;
    });
    await transact(first);
    assert.equal(secondBegun, false, 'the second waits while the only slot is in use');
    first.release();
    const tx = begun(await second);
    assert.equal(tx.reused, true);
    assert.equal((await transact(tx)).end?.code, 250);
    tx.release();
    assert.equal(lab().tor.connects(destination(target)), 1);
    assert.equal(sink.connectionCount, 1);
  });

  it('per-onion limit does not hold back other onions', async () => {
    const a = await lab().sink();
    const b = await lab().sink({}, OTHER);
    const up = lab().upstreams({ pool: { maxPerDestination: 1 } });
    const held = begun(await up.begin([a.target]));
    const other = await deliver(up, [b.target]);
    assert.equal(other.end?.code, 250);
    held.release();
  });

  it('total limit: an idle session to another onion is QUIT to make room', async () => {
    const a = await lab().sink();
    const b = await lab().sink({}, OTHER);
    const up = lab().upstreams({ pool: { maxTotal: 1 } });
    await deliver(up, [a.target]);
    assert.equal(up.idleCount, 1);
    const { end } = await deliver(up, [b.target]);
    assert.equal(end?.code, 250);
    await a.sink.waitUntil(() => a.sink.connections[0]?.closed === true);
    assert.equal(a.sink.connections[0]?.commands.at(-1), 'QUIT');
    assert.equal(up.openCount, 1);
  });

  it('total limit with every session busy: the waiter ends with its signal, or with 4.4.5 after waitMs', async () => {
    const a = await lab().sink();
    const b = await lab().sink({}, OTHER);
    const up = lab().upstreams({ pool: { maxTotal: 1, waitMs: 100 } });
    const held = begun(await up.begin([a.target]));
    const controller = new AbortController();
    const cancelled = up.begin([b.target], { signal: controller.signal });
    controller.abort();
    const r = await cancelled;
    assert.ok(!r.ok);
    if (!r.ok) assert.equal(enhanced(r.reply), '4.3.0', text(r.reply));
    const congested = await up.begin([b.target]);
    assert.ok(!congested.ok);
    if (!congested.ok) {
      assert.equal(congested.reply.code, 451);
      assert.equal(enhanced(congested.reply), '4.4.5');
      assert.match(text(congested.reply), /at most 10 per onion, 1 in all/);
    }
    assert.equal(b.sink.connectionCount, 0);
    held.release();
  });

  it('a transaction released before DATA is RSET and pooled; one released after a refused MAIL too', async () => {
    const { sink, target } = await lab().sink({ commandReply: (line) => (line.startsWith('MAIL FROM:<refused@') ? '550 5.7.1 sender refused' : undefined) });
    const up = lab().upstreams();
    const tx = begun(await up.begin([target]));
    await tx.mail({ reversePath: 's@example.org', params: {} });
    await tx.rcpt({ forwardPath: 'r@example.net', params: {} });
    tx.release();
    await until(() => up.idleCount === 1);
    assert.equal(sink.connections[0]?.commands.at(-1), 'RSET');
    const refused = await deliver(up, [target], { from: 'refused@example.org' });
    assert.equal(refused.mail.code, 550);
    assert.equal(refused.transaction.reused, true);
    const ok = await deliver(up, [target]);
    assert.equal(ok.end?.code, 250);
    assert.equal(ok.transaction.reused, true);
    assert.equal(sink.connectionCount, 1);
    assert.equal(sink.messages.length, 1);
  });

  it('a RCPT pipelined behind a MAIL the server refuses: both answered, the session RSET and reused', async () => {
    const { sink, target } = await lab().sink({ commandReply: (line) => (line.startsWith('MAIL FROM:<refused@') ? '550 5.7.1 sender refused' : undefined) });
    const up = lab().upstreams();
    const tx = begun(await up.begin([target]));
    assert.equal(tx.capabilities.pipelining, true);
    const mail = tx.mail({ reversePath: 'refused@example.org', params: {} });
    const rcpt = tx.rcpt({ forwardPath: 'r@example.net', params: {} });
    assert.equal((await mail).code, 550);
    await rcpt;
    tx.release();
    await until(() => up.idleCount === 1);
    assert.deepEqual(sink.connections[0]?.commands.slice(-3).map((c) => c.split(':')[0]), ['MAIL FROM', 'RCPT TO', 'RSET']);
    const ok = await deliver(up, [target]);
    assert.equal(ok.end?.code, 250);
    assert.equal(ok.transaction.reused, true);
    assert.equal(sink.messages.length, 1);
  });

  it('an aborted transaction closes the socket without the final dot: the server discards the message', async () => {
    const { sink, target } = await lab().sink();
    const up = lab().upstreams();
    const tx = await inData(up, [target]);
    tx.write(Buffer.from('Subject: half\r\n\r\n.\r\n'.replace('.\r\n', '..\r\n')));
    tx.abort('the MTA went away');
    tx.abort('twice is fine');
    tx.release();
    assert.equal((await tx.end()).code, 451, 'commands after the end are answered, not sent');
    await sink.waitUntil(() => sink.connections[0]?.closed === true);
    assert.equal(sink.attempts, 0);
    assert.equal(sink.messages.length, 0);
    assert.equal(up.openCount, 0);
    assert.equal((await deliver(up, [target])).end?.code, 250);
    assert.equal(sink.connectionCount, 2);
  });

  it('a release inside DATA closes the session without the dot, too', async () => {
    const { sink, target } = await lab().sink();
    const up = lab().upstreams();
    const tx = await inData(up, [target]);
    tx.write(MESSAGE);
    tx.release();
    await sink.waitUntil(() => sink.connections[0]?.closed === true);
    assert.equal(sink.attempts, 0);
    assert.equal(up.openCount, 0);
  });

  it('close(graceMs): idle sessions QUIT, a transaction in progress may finish, begin afterwards is refused', async () => {
    const { sink, target } = await lab().sink();
    const idle = await lab().sink({}, OTHER);
    const up = lab().upstreams();
    await deliver(up, [idle.target]);
    const tx = begun(await up.begin([target]));
    const closing = up.close(10_000);
    await idle.sink.waitUntil(() => idle.sink.connections[0]?.closed === true);
    assert.equal(idle.sink.connections[0]?.commands.at(-1), 'QUIT');
    const finished = await transact(tx);
    assert.equal(finished.end?.code, 250);
    tx.release();
    await closing;
    await sink.waitUntil(() => sink.connections[0]?.closed === true);
    assert.equal(sink.connections[0]?.commands.at(-1), 'QUIT');
    assert.equal(up.openCount, 0);
    const refused = await up.begin([target]);
    assert.ok(!refused.ok);
    if (!refused.ok) assert.match(text(refused.reply), /^451 4\.3\.2 .*shutting down/);
  });

  it('close(graceMs): a transaction that does not finish in time is cut off without its dot', async () => {
    const { sink, target } = await lab().sink();
    const up = lab().upstreams();
    const tx = await inData(up, [target]);
    tx.write(MESSAGE);
    await up.close(20);
    const end = await tx.end();
    assert.equal(end.code, 451);
    await sink.waitUntil(() => sink.connections[0]?.closed === true);
    assert.equal(sink.attempts, 0);
  });

  it("begin's signal ends the wait for Tor", async () => {
    const target = { onion: OTHER, port: 6002 };
    lab().tor.setReply(destination(target), { kind: 'hang' });
    const up = lab().upstreams();
    const controller = new AbortController();
    const seen = lab().tor.requests.length;
    const pending = up.begin([target, { onion: OTHER, port: 6003 }], { signal: controller.signal });
    await lab().tor.waitForRequests(seen + 1);
    controller.abort();
    const r = await pending;
    assert.ok(!r.ok);
    if (!r.ok) {
      assert.equal(r.reply.code, 451);
      assert.equal(r.torCode, 'aborted');
    }
    assert.equal(lab().tor.requests.length, seen + 1, 'the next hop is not tried once the caller gave up');
    assert.equal(up.openCount, 0);
  });

  it('close ends a begin that waits for Tor', async () => {
    const target = { onion: OTHER, port: 6001 };
    lab().tor.setReply(destination(target), { kind: 'hang' });
    const up = lab().upstreams();
    const seen = lab().tor.requests.length;
    const pending = up.begin([target]);
    await lab().tor.waitForRequests(seen + 1);
    await up.close(0);
    const r = await pending;
    assert.ok(!r.ok);
    if (!r.ok) assert.equal(r.reply.code, 451);
  });
});
