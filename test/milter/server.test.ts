import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { createMilterServer, MilterClient, Action, Proto, type FilterSpec, type MilterServer } from '../../src/milter/index.ts';

const routing: FilterSpec = {
  actions: ['addHeader', 'changeHeader'],
  noReply: ['header'],
  open: () => ({
    rcptTo: (_ctx, rcpt) => (rcpt.address.endsWith('@bad.example') ? { kind: 'reject' } : undefined),
    header: () => undefined,
    endOfMessage: (ctx) => {
      ctx.deleteHeader('X-Onion-Route', 1);
      ctx.addHeader('X-Onion-Route', `smtptor:[abc.onion]:25 ${ctx.macros.get('i') ?? ''}`);
      return undefined;
    },
  }),
};

describe('milter server over TCP loopback', () => {
  let server: MilterServer;
  after(async () => server.close(1000));

  it('serves a full transaction with our client', async () => {
    server = createMilterServer({ filter: routing });
    const addr = await server.listen('inet:127.0.0.1:0');
    assert.match(addr.spec, /^inet:127\.0\.0\.1:\d+$/);
    const c = await MilterClient.connect(addr.spec);
    const neg = await c.negotiate();
    assert.equal(neg.version, 6);
    assert.equal(neg.actions, Action.addHeaders | Action.changeHeaders);
    assert.ok(neg.protocol & Proto.noReplyHeader);
    assert.deepEqual(await c.connect('mail.example', 'inet', 4242, '192.0.2.1'), { kind: 'notSent' });
    assert.deepEqual(await c.mailFrom('<a@example.org>'), { kind: 'notSent' });
    assert.deepEqual(await c.rcptTo('<x@good.example>'), { kind: 'continue' });
    assert.deepEqual(await c.rcptTo('<y@bad.example>'), { kind: 'reject' });
    assert.deepEqual(await c.header('Subject', 'hi'), { kind: 'noReply' });
    c.macro('E', { i: 'QID1' });
    const eom = await c.endOfMessage();
    assert.deepEqual(eom.reply, { kind: 'continue' });
    assert.deepEqual(eom.modifications, [
      { kind: 'changeHeader', index: 1, name: 'X-Onion-Route', value: '' },
      { kind: 'addHeader', name: 'X-Onion-Route', value: 'smtptor:[abc.onion]:25 QID1' },
    ]);
    await c.quit();
  });
});
