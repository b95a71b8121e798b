// The relay's listeners over a real unix socket and loopback TCP, against the fake upstream half:
// a pipelined LMTP transaction, SMTP on TCP, the socket mode, loopback-only listen specs, the
// connection limit, junk and a vanishing client, and graceful close.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRelayServer, type RelayServer } from '../../../src/relay/index.ts';
import type { RelaySettings } from '../../../src/relay/inbound/session.ts';
import type { SmtpReply } from '../../../src/tor/smtp-reply.ts';
import { FakeUpstreams, gate } from '../../helpers/fake-upstreams.ts';
import { codeOf, crlf, rawClient, standardResolver } from '../relay-fixtures.ts';

function settingsFor(upstreams: FakeUpstreams): () => RelaySettings {
  const settings: RelaySettings = { resolver: standardResolver(), upstreams, heloName: 'relay.test', maxMessageSize: 1_000_000, maxRecipients: 100, deleteHeaders: ['X-Onion-Route'] };
  return () => settings;
}

const TRANSACTION = crlf('MAIL FROM:<s@example.org>', 'RCPT TO:<a@one.example>', 'RCPT TO:<b@two.example>', 'DATA');
const MESSAGE = crlf('X-Onion-Route: smtptor:[x.onion]:25', 'Subject: hi', '', 'body', '.');

describe('relay listeners', () => {
  let dir: string;
  const servers: RelayServer[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'relay-server-'));
  });

  after(async () => {
    await Promise.all(servers.map((s) => s.close(100)));
    await rm(dir, { recursive: true, force: true });
  });

  const start = async (o: { kind?: 'lmtp' | 'smtp'; upstreams: FakeUpstreams; spec: string; maxConnections?: number }): Promise<{ server: RelayServer; target: { path: string } | { port: number } }> => {
    const server = createRelayServer({ kind: o.kind ?? 'lmtp', settings: settingsFor(o.upstreams), socketMode: 0o660, ...(o.maxConnections === undefined ? {} : { maxConnections: o.maxConnections }) });
    servers.push(server);
    const address = await server.listen(o.spec);
    return { server, target: address.path !== undefined ? { path: address.path } : { port: address.port ?? 0 } };
  };

  it('serves a pipelined LMTP transaction on a unix socket with the configured mode', async () => {
    const up = new FakeUpstreams();
    const path = join(dir, 'lmtp.sock');
    const { target } = await start({ upstreams: up, spec: `unix:${path}` });
    assert.equal((await stat(path)).mode & 0o777, 0o660);
    const c = await rawClient(target);
    c.send(crlf('LHLO mta.test') + TRANSACTION);
    assert.deepEqual(await c.codes(5), ['250', '250 2.1.0', '250 2.0.0', '250 2.0.0', '354']);
    c.send(MESSAGE + crlf('QUIT'));
    assert.deepEqual(await c.codes(3, 6), ['250 2.0.0', '250 2.0.0', '221 2.0.0']);
    await c.closed;
    assert.deepEqual(up.transactions.map((t) => t.message), ['Subject: hi\r\n\r\nbody\r\n', 'Subject: hi\r\n\r\nbody\r\n']);
  });

  it('serves SMTP on loopback TCP', async () => {
    const up = new FakeUpstreams();
    const { target } = await start({ kind: 'smtp', upstreams: up, spec: 'inet:127.0.0.1:0' });
    const c = await rawClient(target);
    c.send(crlf('EHLO mta.test') + TRANSACTION + MESSAGE + crlf('QUIT'));
    assert.deepEqual(await c.codes(7), ['250', '250 2.1.0', '250 2.0.0', '452 4.5.3', '354', '250 2.0.0', '221 2.0.0']);
  });

  it('refuses to listen anywhere but loopback or a unix socket', async () => {
    const server = createRelayServer({ kind: 'lmtp', settings: settingsFor(new FakeUpstreams()) });
    servers.push(server);
    await assert.rejects(server.listen('inet:0.0.0.0:0'), /loopback addresses only/);
    await assert.rejects(server.listen('inet:[::]:0'), /loopback addresses only/);
  });

  it('answers connections beyond the limit with 421 4.3.2', async () => {
    const { target } = await start({ upstreams: new FakeUpstreams(), spec: 'inet:127.0.0.1:0', maxConnections: 1 });
    const first = await rawClient(target);
    await first.codes(0);
    const second = await rawClient(target);
    await second.closed;
    assert.deepEqual(second.replies.map(codeOf), ['421 4.3.2']);
    first.destroy();
  });

  it('closes on junk after too many errors and opens nothing upstream', async () => {
    const up = new FakeUpstreams();
    const { target } = await start({ upstreams: up, spec: 'inet:127.0.0.1:0' });
    const c = await rawClient(target);
    c.send(`${'\x00garbage\n'.repeat(30)}${'x'.repeat(10_000)}\r\n`);
    await c.closed;
    assert.equal(c.replies.at(-1)?.code, 421);
    assert.equal(up.calls.length, 0);
  });

  it('aborts the upstream transactions when the client disconnects mid-DATA', async () => {
    const up = new FakeUpstreams();
    const { target } = await start({ upstreams: up, spec: 'inet:127.0.0.1:0' });
    const c = await rawClient(target);
    c.send(crlf('LHLO mta.test') + TRANSACTION);
    await c.codes(5);
    c.send('Subject: cut\r\n');
    c.destroy();
    await up.waitFor(() => up.ops('abort').length === 2);
    assert.equal(up.ops('end').length, 0);
  });

  it('lets a transaction in flight finish on close, then aborts what is left after the grace', async () => {
    const finalReply = gate<SmtpReply>();
    const up = new FakeUpstreams({ 'pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion': { end: () => finalReply.promise } });
    const { server, target } = await start({ upstreams: up, spec: 'inet:127.0.0.1:0' });
    const finishing = await rawClient(target);
    const stalled = await rawClient(target);
    finishing.send(crlf('LHLO mta.test') + TRANSACTION);
    stalled.send(crlf('LHLO mta.test', 'MAIL FROM:<s@example.org>', 'RCPT TO:<c@three.example>', 'DATA', 'Subject: never ends'));
    await finishing.codes(5);
    await stalled.codes(4);
    finishing.send(MESSAGE);
    await up.waitFor(() => up.ops('end').length === 2);
    const closing = server.close(300);
    finalReply.open({ code: 250, lines: ['2.0.0 queued'] });
    assert.deepEqual(await finishing.codes(3, 6), ['250 2.0.0', '250 2.0.0', '421 4.3.2']);
    await closing;
    await stalled.closed;
    const stalledTx = up.transactions.find((t) => t.destination.onion.startsWith('xa4r'));
    assert.equal(stalledTx?.state, 'aborted');
  });
});
