import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, ProtocolError } from '../../../src/errors.ts';
import { decodeCommand, commandName } from '../../../src/milter/wire/commands.ts';
import { FrameDecoder } from '../../../src/milter/wire/frame-decoder.ts';
import * as mta from '../../../src/milter/wire/mta-commands.ts';
import { hex } from '../../helpers/milter-fixtures.ts';

function decodePacket(bytes: Buffer) {
  const [f, ...rest] = new FrameDecoder().push(bytes);
  assert.ok(f);
  assert.equal(rest.length, 0);
  return decodeCommand(f.code, f.payload);
}
const C = (s: string) => s.charCodeAt(0);
const withCode = (code: ErrorCode) => (err: unknown) => err instanceof ProtocolError && err.code === code;

describe('command decoders (MTA -> filter)', () => {
  it('decodes the Postfix v6 OPTNEG bytes', () => {
    assert.deepEqual(decodePacket(hex('00 00 00 0D 4F 00 00 00 06 00 00 01 FF 00 1F FF FF')), {
      kind: 'optneg', version: 6, actions: 0x1ff, protocol: 0x1fffff,
    });
  });

  it('refuses an OPTNEG shorter than 12 bytes and tolerates a longer one', () => {
    assert.throws(() => decodeCommand(C('O'), hex('00 00 00 06 00 00 01 FF 00 1F')), withCode(ErrorCode.MilterTruncated));
    assert.equal(decodeCommand(C('O'), hex('00 00 00 06 00 00 01 FF 00 1F FF FF 10 00 00 00')).kind, 'optneg');
  });

  it('decodes the CONNECT example from the reference (family 4, port byte order)', () => {
    const bytes = Buffer.concat([hex('00 00 00 1F 43'), Buffer.from('mail.example.com\0'), hex('34 C3 50'), Buffer.from('192.0.2.1\0')]);
    assert.equal(bytes.readUInt32BE(0), 31);
    assert.deepEqual(decodePacket(bytes), {
      kind: 'connect', info: { family: 'inet', hostname: 'mail.example.com', address: '192.0.2.1', port: 50000 },
    });
  });

  it('decodes CONNECT families 6 (with and without IPv6: prefix), L and U, and [ip] hostnames', () => {
    const six = (addr: string) => decodeCommand(C('C'), Buffer.concat([Buffer.from('h\0'), hex('36 00 19'), Buffer.from(`${addr}\0`)]));
    assert.deepEqual(six('IPv6:2001:db8::1'), { kind: 'connect', info: { family: 'inet6', hostname: 'h', address: '2001:db8::1', port: 25 } });
    assert.deepEqual(six('2001:db8::1'), { kind: 'connect', info: { family: 'inet6', hostname: 'h', address: '2001:db8::1', port: 25 } });
    assert.deepEqual(decodeCommand(C('C'), Buffer.concat([Buffer.from('localhost\0'), hex('4C 00 00'), Buffer.from('/run/s\0')])), {
      kind: 'connect', info: { family: 'unix', hostname: 'localhost', path: '/run/s' },
    });
    assert.deepEqual(decodeCommand(C('C'), Buffer.from('unknown\0U')), { kind: 'connect', info: { family: 'unknown', hostname: 'unknown' } });
    assert.deepEqual(decodePacket(mta.encodeConnect('[192.0.2.9]', 'inet', 1, '192.0.2.9')), {
      kind: 'connect', info: { family: 'inet', hostname: '[192.0.2.9]', address: '192.0.2.9', port: 1 },
    });
  });

  it('refuses a CONNECT with a missing NUL, a short port or an unknown family', () => {
    assert.throws(() => decodeCommand(C('C'), Buffer.from('host')), withCode(ErrorCode.MilterUnterminatedString));
    assert.throws(() => decodeCommand(C('C'), Buffer.concat([Buffer.from('h\0'), hex('34 00 19'), Buffer.from('1.2.3.4')])), withCode(ErrorCode.MilterUnterminatedString));
    assert.throws(() => decodeCommand(C('C'), Buffer.concat([Buffer.from('h\0'), hex('34 00')])), withCode(ErrorCode.MilterTruncated));
    assert.throws(() => decodeCommand(C('C'), Buffer.concat([Buffer.from('h\0'), hex('58 00 19'), Buffer.from('x\0')])), /family 0x58 at offset 2/);
    assert.throws(() => decodeCommand(C('C'), Buffer.from('h\0U\0')), withCode(ErrorCode.MilterTrailingBytes));
  });

  it('HELO and HEADER need their NULs (libmilter aborts) and refuse embedded ones', () => {
    assert.deepEqual(decodeCommand(C('H'), Buffer.from('client.example\0')), { kind: 'helo', name: 'client.example' });
    assert.throws(() => decodeCommand(C('H'), Buffer.from('client')), withCode(ErrorCode.MilterUnterminatedString));
    assert.throws(() => decodeCommand(C('H'), Buffer.alloc(0)), withCode(ErrorCode.MilterUnterminatedString));
    assert.throws(() => decodeCommand(C('H'), Buffer.from('a\0b\0')), withCode(ErrorCode.MilterTrailingBytes));
    assert.throws(() => decodeCommand(C('L'), Buffer.from('Subject\0hi')), withCode(ErrorCode.MilterUnterminatedString));
    assert.throws(() => decodeCommand(C('L'), Buffer.from('Subject')), withCode(ErrorCode.MilterUnterminatedString));
    assert.throws(() => decodeCommand(C('L'), Buffer.from('A\0b\0c\0')), withCode(ErrorCode.MilterTrailingBytes));
  });

  it('decodes headers with empty, folded and 8-bit values', () => {
    assert.deepEqual(decodeCommand(C('L'), Buffer.from('Subject\0\0')), { kind: 'header', name: 'Subject', value: '' });
    assert.deepEqual(decodeCommand(C('L'), Buffer.from('To\0a,\n\tb\0')), { kind: 'header', name: 'To', value: 'a,\n\tb' });
    assert.deepEqual(decodeCommand(C('L'), Buffer.from('Subject\0Grüße\0', 'utf8')), { kind: 'header', name: 'Subject', value: 'Grüße' });
    // not UTF-8: every byte survives as latin1
    const raw = decodeCommand(C('L'), Buffer.concat([Buffer.from('S\0'), hex('E9 74 E9'), hex('00')]));
    assert.deepEqual(raw, { kind: 'header', name: 'S', value: 'été' });
  });

  it('decodes a header longer than 65535 bytes', () => {
    const value = 'x'.repeat(70_000);
    assert.deepEqual(decodePacket(mta.encodeHeader('X-Big', value)), { kind: 'header', name: 'X-Big', value });
  });

  it('decodes MAIL/RCPT with ESMTP args as separate strings, bracketed, bare and null forms', () => {
    assert.deepEqual(decodeCommand(C('M'), Buffer.from('<a@b>\0SIZE=123\0BODY=8BITMIME\0')), { kind: 'mail', address: '<a@b>', args: ['SIZE=123', 'BODY=8BITMIME'] });
    assert.deepEqual(decodeCommand(C('M'), Buffer.from('<>\0')), { kind: 'mail', address: '<>', args: [] });
    assert.deepEqual(decodeCommand(C('M'), Buffer.from('\0')), { kind: 'mail', address: '', args: [] });
    assert.deepEqual(decodeCommand(C('R'), Buffer.from('bob@x\0')), { kind: 'rcpt', address: 'bob@x', args: [] });
    assert.deepEqual(decodeCommand(C('R'), Buffer.from('<"a b"@x>\0NOTIFY=NEVER\0')), { kind: 'rcpt', address: '<"a b"@x>', args: ['NOTIFY=NEVER'] });
    assert.deepEqual(decodeCommand(C('R'), Buffer.from('<ü@bücher.example>\0', 'utf8')), { kind: 'rcpt', address: '<ü@bücher.example>', args: [] });
  });

  it('tolerates MAIL/RCPT without the final NUL (libmilter NUL-terminates) but needs an address', () => {
    assert.deepEqual(decodeCommand(C('R'), Buffer.from('<a@b>')), { kind: 'rcpt', address: '<a@b>', args: [] });
    assert.throws(() => decodeCommand(C('M'), Buffer.alloc(0)), withCode(ErrorCode.MilterBadCommand));
  });

  it('decodes macros: pairs, odd lists, empty lists, unknown stage tags; refuses a packet without stage', () => {
    assert.deepEqual(decodeCommand(C('D'), Buffer.from('Ci\0Q1\0{daemon_name}\0mx\0')), { kind: 'macro', stage: 'C', macros: [['i', 'Q1'], ['{daemon_name}', 'mx']] });
    assert.deepEqual(decodeCommand(C('D'), Buffer.from('Ri\0Q1\0j\0')), { kind: 'macro', stage: 'R', macros: [['i', 'Q1']] });
    assert.deepEqual(decodeCommand(C('D'), Buffer.from('L')), { kind: 'macro', stage: 'L', macros: [] });
    assert.deepEqual(decodeCommand(C('D'), Buffer.from('Zx\0y')), { kind: 'macro', stage: 'Z', macros: [['x', 'y']] });
    assert.throws(() => decodeCommand(C('D'), Buffer.alloc(0)), withCode(ErrorCode.MilterBadCommand));
  });

  it('decodes body chunks, BODYEOB with and without data, UNKNOWN and data-less commands', () => {
    assert.deepEqual(decodeCommand(C('B'), Buffer.from('a\r')), { kind: 'body', chunk: Buffer.from('a\r') });
    assert.deepEqual(decodeCommand(C('E'), Buffer.alloc(0)), { kind: 'endOfMessage', chunk: undefined });
    assert.deepEqual(decodeCommand(C('E'), Buffer.from('tail')), { kind: 'endOfMessage', chunk: Buffer.from('tail') });
    assert.deepEqual(decodeCommand(C('U'), Buffer.from('XFOO bar\0')), { kind: 'unknown', line: 'XFOO bar' });
    for (const [c, kind] of [['T', 'data'], ['N', 'endOfHeaders'], ['A', 'abort'], ['Q', 'quit'], ['K', 'quitNewConnection']] as const) {
      assert.deepEqual(decodeCommand(C(c), Buffer.alloc(0)), { kind });
      assert.throws(() => decodeCommand(C(c), Buffer.from('x')), withCode(ErrorCode.MilterTrailingBytes));
    }
  });

  it('refuses unknown command bytes with their hex value', () => {
    assert.throws(() => decodeCommand(0x5a, Buffer.alloc(0)), (e: unknown) => withCode(ErrorCode.MilterUnknownCommand)(e) && /0x5a/.test((e as Error).message));
    assert.equal(commandName(0x43), 'SMFIC_CONNECT');
  });

  it('round-trips every MTA-side encoder through the decoder', () => {
    const cases = [
      [mta.encodeOptneg(2, 0, 0), { kind: 'optneg', version: 2, actions: 0, protocol: 0 }],
      [mta.encodeMacro('M', [['{mail_addr}', 'a@b']]), { kind: 'macro', stage: 'M', macros: [['{mail_addr}', 'a@b']] }],
      [mta.encodeConnect('h', 'unknown'), { kind: 'connect', info: { family: 'unknown', hostname: 'h' } }],
      [mta.encodeHelo('h'), { kind: 'helo', name: 'h' }],
      [mta.encodeMail('<a@b>', ['SIZE=1']), { kind: 'mail', address: '<a@b>', args: ['SIZE=1'] }],
      [mta.encodeRcpt('c@d'), { kind: 'rcpt', address: 'c@d', args: [] }],
      [mta.encodeBody(Buffer.from('x')), { kind: 'body', chunk: Buffer.from('x') }],
      [mta.encodeEndOfMessage(Buffer.from('y')), { kind: 'endOfMessage', chunk: Buffer.from('y') }],
      [mta.encodeUnknown('HELP'), { kind: 'unknown', line: 'HELP' }],
    ] as const;
    for (const [bytes, want] of cases) assert.deepEqual(decodePacket(bytes), want);
  });
});
