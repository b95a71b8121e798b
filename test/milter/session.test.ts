import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, OnionMxError, ProtocolError } from '../../src/errors.ts';
import type { EndOfMessageContext, FilterHandler, FilterSpec, SessionContext } from '../../src/milter/types.ts';
import { Proto } from '../../src/milter/wire/constants.ts';
import * as mta from '../../src/milter/wire/mta-commands.ts';
import { decodeReplies, drive, recordingLogger } from '../helpers/milter-fixtures.ts';

const OPTNEG = mta.encodeOptneg(6, 0x1ff, 0x1fffff);
const spec = (open: (ctx: SessionContext) => FilterHandler, extra: Partial<FilterSpec> = {}): FilterSpec => ({ actions: [], open, ...extra });
const start = [OPTNEG, mta.encodeConnect('c', 'inet', 1, '192.0.2.1'), mta.encodeHelo('h')];
const coded = (code: ErrorCode) => (e: unknown) => e instanceof OnionMxError && e.code === code;
const kinds = (rs: readonly { kind: string }[]) => rs.map((r) => r.kind);

describe('session: replies and no-reply flags', () => {
  it('writes no bytes at all for events negotiated as no-reply, even when the hook answers', async () => {
    const { log, lines } = await recordingLogger();
    const d = drive(
      spec(() => ({ connect: () => ({ kind: 'reject' }), helo: () => undefined, rcptTo: () => ({ kind: 'tempfail' }), header: () => ({ kind: 'reject' }), endOfHeaders: () => undefined, body: () => undefined, data: () => undefined, mailFrom: () => undefined, unknown: () => undefined }), {
        noReply: ['connect', 'helo', 'mail', 'rcpt', 'data', 'header', 'eoh', 'body', 'unknown'],
      }),
      { log },
    );
    await d.feed(OPTNEG);
    const neg = d.take()[0];
    assert.ok(neg?.kind === 'optneg' && (neg.protocol & 0xff000) === 0xff000 && neg.protocol & Proto.noReplyHeader);
    const before = d.sent.length;
    await d.feed(Buffer.concat([
      mta.encodeConnect('c', 'inet', 1, '192.0.2.1'), mta.encodeHelo('h'), mta.encodeMail('<a@b>'), mta.encodeRcpt('<c@d>'), mta.DATA,
      mta.encodeHeader('A', 'b'), mta.END_OF_HEADERS, mta.encodeBody(Buffer.from('x')), mta.encodeUnknown('XX'),
    ]));
    assert.equal(d.sent.length, before, 'no packet written');
    assert.ok(lines.some((l) => l['msg'] === 'hook answered an event negotiated as no-reply; answer dropped' && l['event'] === 'connect'));
    await d.feed(mta.END_OF_MESSAGE);
    assert.deepEqual(kinds(d.take()), ['continue'], 'EOM is always answered');
  });

  it('answers every reply-expecting command exactly once, ABORT/MACRO/QUIT never', async () => {
    const d = drive(spec(() => ({ rcptTo: () => undefined })));
    // An MTA without NR bits (v4 style) that sends disabled events anyway still gets continue.
    await d.feed(mta.encodeOptneg(6, 0x1ff, 0x37f & ~Proto.noReplyHeader));
    d.take();
    await d.feed(Buffer.concat([
      mta.encodeMacro('C', [['j', 'x']]), mta.encodeConnect('c', 'unknown'), mta.encodeHelo('h'), mta.ABORT, mta.encodeMail('<a@b>'),
      mta.encodeRcpt('<c@d>'), mta.encodeRcpt('<e@f>'), mta.DATA, mta.encodeHeader('S', ''), mta.END_OF_HEADERS, mta.encodeBody(Buffer.from('b')),
      mta.END_OF_MESSAGE, mta.ABORT, mta.ABORT, mta.encodeUnknown('NOOP'), mta.QUIT,
    ]));
    assert.deepEqual(kinds(d.take()), Array<string>(11).fill('continue'));
    assert.equal(d.session.state, 'closed');
  });

  it('per-recipient rejects leave the transaction running; accept before EOM is sent as is', async () => {
    const d = drive(spec(() => ({
      rcptTo: (_c, r) => (r.address.startsWith('bad') ? { kind: 'reply', code: 550, enhanced: '5.1.1', text: 'no such user' } : r.address.startsWith('ok') ? { kind: 'accept' } : undefined),
    })));
    await d.feed(Buffer.concat([...start, mta.encodeMail('<a@b>'), mta.encodeRcpt('<bad@x>'), mta.encodeRcpt('<good@x>'), mta.encodeRcpt('<ok@x>')]));
    assert.deepEqual(d.take().slice(1), [{ kind: 'replyCode', text: '550 5.1.1 no such user' }, { kind: 'continue' }, { kind: 'accept' }]);
  });
});

describe('session: hook failures', () => {
  it('a throwing hook yields tempfail (default) and a coded log line', async () => {
    const { log, lines } = await recordingLogger();
    const d = drive(spec(() => ({ rcptTo: () => { throw new Error('boom'); } })), { log });
    await d.feed(Buffer.concat([...start, mta.encodeMail('<a@b>'), mta.encodeRcpt('<c@d>')]));
    assert.deepEqual(kinds(d.take()).at(-1), 'tempfail');
    assert.ok(lines.some((l) => l['code'] === ErrorCode.MilterHookFailed && l['hook'] === 'rcpt'));
  });

  it('the failure verdict is configurable; a rejected promise counts as a throw', async () => {
    for (const policy of ['continue', 'reject'] as const) {
      const d = drive(spec(() => ({ helo: () => Promise.reject(new Error('x')) })), { onHookError: policy });
      await d.feed(Buffer.concat([OPTNEG, mta.encodeHelo('h')]));
      assert.deepEqual(kinds(d.take()), ['optneg', policy]);
    }
  });

  it('a hook that exceeds its timeout yields tempfail, aborts its signal and logs the timeout', async () => {
    const { log, lines } = await recordingLogger();
    let seen: AbortSignal | undefined;
    const d = drive(spec(() => ({ mailFrom: (ctx) => { seen = ctx.signal; return new Promise(() => undefined); } })), { log, hookTimeoutMs: 5 });
    await d.feed(Buffer.concat([...start, mta.encodeMail('<a@b>')]));
    assert.deepEqual(kinds(d.take()).at(-1), 'tempfail');
    assert.equal(seen?.aborted, true);
    assert.ok(lines.some((l) => l['code'] === ErrorCode.MilterHookTimeout));
  });

  it('a hook returning a non-verdict or a malformed reply yields the failure verdict', async () => {
    const d = drive(spec(() => ({
      helo: () => ({ kind: 'maybe' }) as never,
      mailFrom: () => ({ kind: 'reply', code: 250, text: 'fine' }),
    })));
    await d.feed(Buffer.concat([OPTNEG, mta.encodeHelo('h'), mta.encodeMail('<a@b>')]));
    assert.deepEqual(kinds(d.take()), ['optneg', 'tempfail', 'tempfail']);
  });

  it('at EOM a failing hook drops its modifications; a malformed final reply too', async () => {
    const d = drive(spec(() => ({
      endOfMessage: (ctx) => { ctx.addHeader('X-A', '1'); if (ctx.macros.get('i') === 'bad-reply') return { kind: 'reply', code: 550, enhanced: '4.0.0', text: 'x' }; throw new Error('late'); },
    }), { actions: ['addHeader'] }));
    await d.feed(Buffer.concat([...start, mta.encodeMail('<a@b>'), mta.END_OF_MESSAGE]));
    assert.deepEqual(kinds(d.take()).slice(-1), ['tempfail']);
    assert.equal(d.sent.at(-1)?.length, 5, 'only the verdict');
    await d.feed(Buffer.concat([mta.ABORT, mta.encodeMail('<a@b>'), mta.encodeMacro('E', [['i', 'bad-reply']]), mta.END_OF_MESSAGE]));
    assert.deepEqual(kinds(d.take()).slice(-1), ['tempfail']);
  });

  it('abort and close hooks that throw are logged, not fatal', async () => {
    const d = drive(spec(() => ({ abort: () => { throw new Error('a'); }, close: () => Promise.reject(new Error('c')) })));
    await d.feed(Buffer.concat([...start, mta.encodeMail('<a@b>'), mta.ABORT, mta.QUIT]));
    assert.equal(d.session.state, 'closed');
  });
});

describe('session: end of message', () => {
  it('writes all modifications and the final verdict in ONE buffer, in index-safe order', async () => {
    const d = drive(spec(() => ({
      endOfMessage: (ctx) => {
        ctx.addHeader('X-Onion-Route', 'smtptor:[x.onion]');
        ctx.deleteHeader('X-Onion-Route', 1);
        ctx.deleteHeader('X-Onion-Route', 3);
        ctx.changeHeader('Subject', 0, 'new');
        ctx.changeHeader('X-Old', 2, '');
        ctx.insertHeader(0, 'X-Top', 'first');
        ctx.addRecipient('<n@x>');
        ctx.addRecipient('<p@x>', 'NOTIFY=NEVER');
        ctx.deleteRecipient('<c@d>');
        ctx.changeFrom('<f@x>', 'RET=HDRS');
        ctx.replaceBody(Buffer.from('new body\r\n'));
        ctx.quarantine('held');
        return { kind: 'accept' };
      },
    }), { actions: ['addHeader', 'changeHeader', 'addRecipient', 'addRecipientWithArgs', 'deleteRecipient', 'changeFrom', 'replaceBody', 'quarantine'] }));
    await d.feed(Buffer.concat([...start, mta.encodeMail('<a@b>')]));
    const before = d.sent.length;
    await d.feed(mta.END_OF_MESSAGE);
    assert.equal(d.sent.length, before + 1, 'one write');
    assert.deepEqual(decodeReplies(d.sent.at(-1)!), [
      { kind: 'changeHeader', index: 1, name: 'Subject', value: 'new' },
      { kind: 'changeHeader', index: 3, name: 'X-Onion-Route', value: '' },
      { kind: 'changeHeader', index: 1, name: 'X-Onion-Route', value: '' },
      { kind: 'changeHeader', index: 2, name: 'X-Old', value: '' },
      { kind: 'addHeader', name: 'X-Onion-Route', value: 'smtptor:[x.onion]' },
      { kind: 'insertHeader', index: 0, name: 'X-Top', value: 'first' },
      { kind: 'addRecipient', address: '<n@x>' },
      { kind: 'addRecipient', address: '<p@x>', args: 'NOTIFY=NEVER' },
      { kind: 'deleteRecipient', address: '<c@d>' },
      { kind: 'changeFrom', address: '<f@x>', args: 'RET=HDRS' },
      { kind: 'replaceBody', chunk: Buffer.from('new body\r\n') },
      { kind: 'quarantine', reason: 'held' },
      { kind: 'accept' },
    ]);
  });

  it('refuses modifications that were not granted, and any after the hook returned', async () => {
    let saved: EndOfMessageContext | undefined;
    let refusal: unknown;
    const d = drive(spec(() => ({
      endOfMessage: (ctx) => {
        saved = ctx;
        try { ctx.deleteRecipient('<x@y>'); } catch (e) { refusal = e; }
        ctx.addHeader('X-Ok', 'v');
        return undefined;
      },
    }), { actions: ['addHeader'] }));
    await d.feed(Buffer.concat([...start, mta.encodeMail('<a@b>'), mta.END_OF_MESSAGE]));
    assert.ok(coded(ErrorCode.MilterModificationNotAllowed)(refusal));
    assert.throws(() => saved?.addHeader('X-Late', 'v'), coded(ErrorCode.MilterModificationNotAllowed));
    assert.throws(() => saved?.progress(), coded(ErrorCode.MilterModificationNotAllowed), 'Sendmail rejects progress outside EOM');
  });

  it('sends SMFIR_PROGRESS while a slow EOM hook runs (and only at EOM)', async () => {
    const out: { sent: readonly Buffer[] } = { sent: [] };
    const progressCount = () => out.sent.filter((b) => b.length === 5 && b[4] === 0x70).length;
    const waitForProgress = (n: number) => new Promise<void>((resolve) => {
      const check = () => { if (progressCount() >= n) resolve(); else setImmediate(check); };
      check();
    });
    const d = drive(spec(() => ({
      rcptTo: async () => { await new Promise((r) => setImmediate(r)); return undefined; },
      endOfMessage: async (ctx) => { ctx.progress(); await waitForProgress(3); ctx.addHeader('X-Done', 'yes'); return undefined; },
    }), { actions: ['addHeader'] }), { progressIntervalMs: 1 });
    out.sent = d.sent;
    await d.feed(Buffer.concat([...start, mta.encodeMail('<a@b>'), mta.encodeRcpt('<c@d>')]));
    assert.equal(progressCount(), 0, 'no progress outside EOM');
    await d.feed(mta.END_OF_MESSAGE);
    const replies = d.take();
    assert.ok(replies.filter((r) => r.kind === 'progress').length >= 3);
    assert.deepEqual(replies.slice(-2), [{ kind: 'addHeader', name: 'X-Done', value: 'yes' }, { kind: 'continue' }]);
    const count = progressCount();
    await new Promise((r) => setTimeout(r, 5));
    assert.equal(progressCount(), count, 'heartbeat stops with the hook');
  });

  it('BODYEOB with data is a last body chunk (libmilter); a decisive body verdict ends the message', async () => {
    const chunks: string[] = [];
    const d = drive(spec(() => ({
      body: (_c, b) => { chunks.push(b.toString()); return b.toString() === 'stop' ? { kind: 'discard' } : undefined; },
      endOfMessage: () => ({ kind: 'reject' }),
    })));
    await d.feed(Buffer.concat([...start, mta.encodeMail('<a@b>'), mta.encodeBody(Buffer.from('a\r')), mta.encodeEndOfMessage(Buffer.from('\nb'))]));
    assert.deepEqual(chunks, ['a\r', '\nb'], 'CRLF split across chunks arrives as is');
    assert.deepEqual(kinds(d.take()).slice(-2), ['continue', 'reject']);
    await d.feed(Buffer.concat([mta.ABORT, mta.encodeMail('<a@b>'), mta.encodeEndOfMessage(Buffer.from('stop'))]));
    assert.deepEqual(kinds(d.take()).slice(-1), ['discard']);
  });

  it('a message without body (EOH then EOB) reaches endOfMessage', async () => {
    let reached = false;
    const d = drive(spec(() => ({ endOfMessage: () => { reached = true; return undefined; } })));
    await d.feed(Buffer.concat([...start, mta.encodeMail('<a@b>'), mta.encodeRcpt('<c@d>'), mta.DATA, mta.END_OF_HEADERS, mta.END_OF_MESSAGE]));
    assert.ok(reached);
  });

  it('SKIP is sent from a body hook only when negotiated, otherwise continue', async () => {
    const body = () => ({ body: () => ({ kind: 'skip' as const }) });
    const d = drive(spec(body));
    await d.feed(Buffer.concat([...start, mta.encodeMail('<a@b>'), mta.encodeBody(Buffer.from('x'))]));
    assert.deepEqual(kinds(d.take()).at(-1), 'skip');
    const old = drive(spec(body));
    await old.feed(Buffer.concat([mta.encodeOptneg(6, 0x1ff, 0x1fffff & ~Proto.skip), mta.encodeMail('<a@b>'), mta.encodeBody(Buffer.from('x'))]));
    assert.deepEqual(kinds(old.take()).at(-1), 'continue');
  });
});

describe('session: transactions, ABORT and QUIT', () => {
  function tracing(trace: string[]): FilterSpec {
    return spec(() => ({
      connect: (_c, i) => { trace.push(`connect:${i.hostname}`); return undefined; },
      helo: (_c, n) => { trace.push(`helo:${n}`); return undefined; },
      mailFrom: (_c, a) => { trace.push(`mail:${a.address}`); return undefined; },
      rcptTo: (_c, a) => { trace.push(`rcpt:${a.address}`); return undefined; },
      endOfMessage: () => { trace.push('eom'); return undefined; },
      abort: () => { trace.push('abort'); },
      close: () => { trace.push('close'); },
    }));
  }

  it('drops duplicate ABORTs and ABORTs outside a transaction; calls abort for an open one', async () => {
    const trace: string[] = [];
    const d = drive(tracing(trace));
    await d.feed(Buffer.concat([...start, mta.ABORT, mta.encodeMail('<a@b>'), mta.encodeHeader('X', 'y'), mta.ABORT, mta.ABORT, mta.encodeMail('<c@d>'), mta.END_OF_MESSAGE, mta.ABORT, mta.ABORT]));
    assert.deepEqual(trace, ['connect:c', 'helo:h', 'mail:a@b', 'abort', 'mail:c@d', 'eom']);
  });

  it('synthesises the missing ABORT: MAIL after EOM (Sendmail) and MAIL/HELO inside a transaction', async () => {
    const trace: string[] = [];
    const d = drive(tracing(trace));
    await d.feed(Buffer.concat([
      ...start, mta.encodeMail('<1@x>'), mta.END_OF_MESSAGE, mta.encodeMail('<2@x>'), mta.encodeRcpt('<r@x>'),
      mta.encodeMail('<3@x>'), mta.encodeHelo('again'), mta.encodeMail('<4@x>'),
    ]));
    assert.deepEqual(trace, ['connect:c', 'helo:h', 'mail:1@x', 'eom', 'mail:2@x', 'rcpt:r@x', 'abort', 'mail:3@x', 'abort', 'helo:again', 'mail:4@x']);
  });

  it('re-HELO without an open transaction is just another HELO', async () => {
    const trace: string[] = [];
    const d = drive(tracing(trace));
    await d.feed(Buffer.concat([...start, mta.encodeHelo('tls')]));
    assert.deepEqual(trace, ['connect:c', 'helo:h', 'helo:tls']);
  });

  it('QUIT_NC ends the connection context and the next CONNECT opens a fresh handler', async () => {
    const trace: string[] = [];
    let opened = 0;
    const inner = tracing(trace);
    const d = drive({ ...inner, open: (ctx) => { opened++; return inner.open(ctx); } });
    await d.feed(Buffer.concat([...start, mta.encodeMacro('C', [['j', 'one']]), mta.encodeMail('<a@b>'), mta.QUIT_NEW_CONNECTION]));
    assert.equal(d.session.state, 'idle');
    assert.equal(d.session.macros.get('j'), undefined, 'macros cleared');
    await d.feed(Buffer.concat([mta.encodeConnect('second', 'unknown'), mta.QUIT]));
    assert.deepEqual(trace, ['connect:c', 'helo:h', 'mail:a@b', 'abort', 'close', 'connect:second', 'close']);
    assert.equal(opened, 2);
    assert.equal(d.session.state, 'closed');
  });

  it('EOF mid-transaction calls abort then close and aborts the context signal', async () => {
    const trace: string[] = [];
    let signal: AbortSignal | undefined;
    const inner = tracing(trace);
    const d = drive({ ...inner, open: (ctx) => { signal = ctx.signal; return inner.open(ctx); } });
    await d.feed(Buffer.concat([...start, mta.encodeMail('<a@b>')]));
    await d.session.close('EOF');
    await d.session.close('EOF');
    assert.deepEqual(trace.slice(-2), ['abort', 'close']);
    assert.equal(signal?.aborted, true);
  });

  it('a context signal first read after the session closed is already aborted', async () => {
    let ctx: SessionContext | undefined;
    const inner = tracing([]);
    const d = drive({ ...inner, open: (c) => { ctx = c; return inner.open(c); } });
    await d.feed(Buffer.concat([...start, mta.encodeMail('<a@b>')]));
    await d.session.close('EOF');
    assert.equal(ctx?.signal.aborted, true);
  });

  it('log lines carry the connection id, and the queue id once the MTA sent one', async () => {
    const { log, lines } = await recordingLogger();
    const d = drive(spec(() => ({ mailFrom: (ctx) => { ctx.log.info('in mail'); return undefined; }, helo: (ctx) => { ctx.log.info('in helo'); return undefined; } })), { log });
    await d.feed(Buffer.concat([OPTNEG, mta.encodeHelo('h'), mta.encodeMacro('M', [['i', 'Q42']]), mta.encodeMail('<a@b>')]));
    const helo = lines.find((l) => l['msg'] === 'in helo');
    const mail = lines.find((l) => l['msg'] === 'in mail');
    assert.equal(helo?.['conn'], 't1');
    assert.equal(helo?.['qid'], undefined);
    assert.equal(mail?.['conn'], 't1');
    assert.equal(mail?.['qid'], 'Q42');
  });

  it('refuses commands before OPTNEG, a second OPTNEG and MTA versions below 2', async () => {
    const seq = (e: unknown) => e instanceof ProtocolError && e.code === ErrorCode.MilterSequence;
    await assert.rejects(drive(spec(() => ({}))).feed(mta.encodeHelo('h')), seq);
    await assert.rejects(drive(spec(() => ({}))).feed(Buffer.concat([OPTNEG, OPTNEG])), seq);
    await assert.rejects(drive(spec(() => ({}))).feed(mta.encodeOptneg(1, 0, 0)), (e: unknown) => e instanceof ProtocolError && e.code === ErrorCode.MilterNegotiation);
    const early = drive(spec(() => ({})));
    await early.feed(Buffer.concat([mta.encodeMacro('C', [['j', 'x']]), mta.ABORT]));
    assert.equal(early.sent.length, 0, 'D and A before OPTNEG are harmless');
  });

  it('FilterSpec.open throwing fails the connection with a coded error', async () => {
    await assert.rejects(drive(spec(() => { throw new Error('no'); })).feed(OPTNEG), coded(ErrorCode.MilterHookFailed));
  });
});

describe('session: data as hooks see it', () => {
  it('envelope addresses: <a@b>, bare a@b, <> and empty null senders, ESMTP args', async () => {
    const seen: unknown[] = [];
    const d = drive(spec(() => ({ mailFrom: (_c, a) => { seen.push(a); return undefined; }, rcptTo: (_c, a) => { seen.push(a); return undefined; } })));
    await d.feed(Buffer.concat([
      OPTNEG, mta.encodeMail('<a@b>', ['SIZE=1', 'BODY=8BITMIME']), mta.encodeRcpt('c@d'), mta.ABORT, mta.encodeMail('<>'), mta.ABORT, mta.encodeMail(''), mta.encodeRcpt('<"x y"@z>'),
    ]));
    assert.deepEqual(seen, [
      { raw: '<a@b>', address: 'a@b', args: ['SIZE=1', 'BODY=8BITMIME'] },
      { raw: 'c@d', address: 'c@d', args: [] },
      { raw: '<>', address: '', args: [] },
      { raw: '', address: '', args: [] },
      { raw: '<"x y"@z>', address: '"x y"@z', args: [] },
    ]);
  });

  it('headers: empty values reach the hook; HDR_LEADSPC granted keeps values verbatim both ways', async () => {
    const seen: string[] = [];
    const s = spec(() => ({
      header: (ctx, n, v) => { seen.push(`${n}=${JSON.stringify(v)}:${String(ctx.headerLeadingSpace)}`); return undefined; },
      endOfMessage: (ctx) => { ctx.addHeader('X-A', ' spaced'); ctx.changeHeader('X-B', 1, '\tfolded'); return undefined; },
    }), { actions: ['addHeader', 'changeHeader'], headerLeadingSpace: true });
    const granted = drive(s);
    await granted.feed(Buffer.concat([OPTNEG, mta.encodeMail('<a@b>'), mta.encodeHeader('To', '  x@y'), mta.encodeHeader('Subject', ''), mta.END_OF_MESSAGE]));
    assert.deepEqual(seen, ['To="  x@y":true', 'Subject="":true']);
    assert.deepEqual(granted.take().filter((r) => r.kind === 'addHeader' || r.kind === 'changeHeader').map((r) => 'value' in r && r.value), ['\tfolded', ' spaced']);
    const notGranted = drive(s);
    await notGranted.feed(Buffer.concat([mta.encodeOptneg(6, 0x1ff, 0x1fffff & ~Proto.headerLeadingSpace), mta.encodeMail('<a@b>'), mta.END_OF_MESSAGE]));
    assert.deepEqual(notGranted.take().filter((r) => r.kind === 'addHeader' || r.kind === 'changeHeader').map((r) => 'value' in r && r.value), ['\tfolded', 'spaced'], 'the MTA adds the space back');
    const plain = drive({ ...s, headerLeadingSpace: false });
    await plain.feed(Buffer.concat([OPTNEG, mta.encodeMail('<a@b>'), mta.END_OF_MESSAGE]));
    const neg = plain.take()[0];
    assert.ok(neg?.kind === 'optneg' && (neg.protocol & Proto.headerLeadingSpace) === 0);
  });

  it('macros arrive for disabled stages too and stay visible by stage; the queue id joins the log context', async () => {
    const { log, lines } = await recordingLogger();
    const at: Record<string, string | undefined> = {};
    const d = drive(spec(() => ({
      rcptTo: (ctx) => { at['rcpt.j'] = ctx.macros.get('j'); at['rcpt.i'] = ctx.macros.get('{i}'); at['rcpt.mailer'] = ctx.macros.get('rcpt_mailer'); return undefined; },
      endOfMessage: (ctx) => { at['eom.i'] = ctx.macros.get('i'); at['eom.mailer'] = ctx.macros.get('{rcpt_mailer}'); ctx.log.info('at eom'); return undefined; },
    }), { rejectedRecipients: true }), { log });
    await d.feed(Buffer.concat([
      OPTNEG, mta.encodeMacro('C', [['j', 'mx.example']]), mta.encodeConnect('c', 'unknown'),
      mta.encodeMacro('M', [['{mail_addr}', 'a@b']]), mta.encodeMail('<a@b>'),
      mta.encodeMacro('R', [['{rcpt_mailer}', 'error'], ['{rcpt_host}', '5.1.1'], ['{rcpt_addr}', 'User unknown']]), mta.encodeRcpt('<gone@x>'),
      mta.encodeMacro('T', [['i', 'Q42']]), mta.DATA, mta.encodeMacro('E', [['i', 'Q42']]), mta.END_OF_MESSAGE,
    ]));
    assert.deepEqual(at, { 'rcpt.j': 'mx.example', 'rcpt.i': undefined, 'rcpt.mailer': 'error', 'eom.i': 'Q42', 'eom.mailer': 'error' });
    assert.ok(lines.some((l) => l['msg'] === 'at eom' && l['qid'] === 'Q42'));
    const neg = decodeReplies(d.sent[0]!)[0];
    assert.ok(neg?.kind === 'optneg' && neg.protocol & Proto.rejectedRecipients);
  });
});
