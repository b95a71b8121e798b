// A captured-style Postfix smtpd conversation through the session, whole and split at every offset.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FilterSpec } from '../../src/milter/types.ts';
import { Proto } from '../../src/milter/wire/constants.ts';
import { drive, postfixConversation } from '../helpers/milter-fixtures.ts';

function routingFilter(trace: string[]): FilterSpec {
  return {
    actions: ['addHeader', 'changeHeader'],
    noReply: ['header'],
    macros: { rcpt: ['{rcpt_mailer}', '{rcpt_host}'] },
    open: () => {
      let forged = 0;
      return {
        connect: (ctx, info) => { trace.push(`connect ${info.hostname} ${info.family === 'inet' ? info.address : ''} j=${ctx.macros.get('j') ?? ''}`); return undefined; },
        helo: (_c, name) => { trace.push(`helo ${name}`); return undefined; },
        mailFrom: (_c, from) => { trace.push(`mail ${from.address} ${from.args.join(',')}`); return undefined; },
        rcptTo: (ctx, rcpt) => { trace.push(`rcpt ${rcpt.address} i=${ctx.macros.get('i') ?? '-'} mailer=${ctx.macros.get('rcpt_mailer') ?? ''}`); return undefined; },
        header: (ctx, name) => { if (name === 'X-Onion-Route') forged++; trace.push(`header ${name} i=${ctx.macros.get('i') ?? '-'}`); return undefined; },
        endOfHeaders: () => { trace.push('eoh'); return undefined; },
        body: (_c, chunk) => { trace.push(`body ${chunk.length}`); return undefined; },
        endOfMessage: (ctx) => {
          trace.push(`eom i=${ctx.macros.get('i') ?? '-'}`);
          for (let i = forged; i >= 1; i--) ctx.deleteHeader('X-Onion-Route', i);
          forged = 0;
          ctx.addHeader('X-Onion-Route', `smtptor:[x.onion]:25 ${ctx.macros.get('i') ?? ''}`);
          return undefined;
        },
        abort: () => { trace.push('abort'); },
        close: () => { trace.push('close'); },
      };
    },
  };
}

const EXPECTED_TRACE = [
  'connect client.example 192.0.2.7 j=mx.example',
  'helo client.example',
  'mail alice@example.org SIZE=512,BODY=8BITMIME',
  'rcpt bob@onion.example i=- mailer=smtp',
  'rcpt carol@onion.example i=4ZQ1xL0abcz1 mailer=smtp',
  'header From i=4ZQ1xL0abcz1', 'header X-Onion-Route i=4ZQ1xL0abcz1', 'header Subject i=4ZQ1xL0abcz1',
  'eoh', 'body 14', 'eom i=4ZQ1xL0abcz1',
  'mail  SIZE=512,BODY=8BITMIME',
  'rcpt dave@onion.example i=- mailer=smtp',
  'header From i=4ZQ1xL0abcz2', 'header X-Onion-Route i=4ZQ1xL0abcz2', 'header Subject i=4ZQ1xL0abcz2',
  'eoh', 'body 14', 'eom i=4ZQ1xL0abcz2',
  'close',
];

const EXPECTED_REPLIES = (qid: string) => [
  { kind: 'changeHeader', index: 1, name: 'X-Onion-Route', value: '' },
  { kind: 'addHeader', name: 'X-Onion-Route', value: `smtptor:[x.onion]:25 ${qid}` },
  { kind: 'continue' },
];

async function run(chunks: readonly Buffer[]) {
  const trace: string[] = [];
  const d = drive(routingFilter(trace));
  for (const c of chunks) await d.feed(c);
  return { trace, replies: d.take(), sent: d.sent, state: d.session.state };
}

describe('captured-style Postfix conversation', () => {
  it('runs two messages with duplicate ABORTs and D-L/D-B packets to a clean lifecycle', async () => {
    const { trace, replies, sent, state } = await run([Buffer.concat(postfixConversation())]);
    assert.deepEqual(trace, EXPECTED_TRACE);
    const [neg, ...rest] = replies;
    assert.deepEqual(neg, { kind: 'optneg', version: 6, actions: 0x111, protocol: Proto.noReplyHeader | Proto.noUnknown | Proto.noData | Proto.skip | Proto.noReplyData | Proto.noReplyUnknown, symbolLists: new Map([[3, ['{rcpt_mailer}', '{rcpt_host}']]]) });
    // connect, helo, mail, rcpt, rcpt, eoh, body; EOM (3 packets); then mail, rcpt, eoh, body; EOM.
    // DATA (no hook) and headers (noReply) are negotiated as no-reply: a real Postfix would not
    // even send T, and this one sends it anyway; no answer is written.
    assert.deepEqual(rest, [
      ...Array<object>(7).fill({ kind: 'continue' }), ...EXPECTED_REPLIES('4ZQ1xL0abcz1'),
      ...Array<object>(4).fill({ kind: 'continue' }), ...EXPECTED_REPLIES('4ZQ1xL0abcz2'),
    ]);
    assert.equal(sent.length, 1 + 7 + 1 + 4 + 1, 'each EOM answer is one write');
    assert.equal(state, 'closed');
  });

  it('gives the same lifecycle and bytes when the stream is split at every offset', async () => {
    const stream = Buffer.concat(postfixConversation());
    const want = await run([stream]);
    for (let cut = 1; cut < stream.length; cut++) {
      const got = await run([stream.subarray(0, cut), stream.subarray(cut)]);
      assert.deepEqual(got.trace, want.trace, `cut ${cut}`);
      assert.deepEqual(Buffer.concat(got.sent), Buffer.concat(want.sent), `cut ${cut}`);
    }
  });
});
