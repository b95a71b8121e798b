import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode, ProtocolError } from '../../../src/errors.ts';
import {
  encodeAddHeader,
  encodeAddRecipient,
  encodeAddRecipientWithArgs,
  encodeChangeFrom,
  encodeChangeHeader,
  encodeDeleteRecipient,
  encodeInsertHeader,
  encodeOptnegReply,
  encodeQuarantine,
  encodeReplaceBody,
  encodeVerdict,
  PROGRESS_PACKET,
} from '../../../src/milter/wire/replies.ts';
import { formatReplyCode } from '../../../src/milter/wire/reply-code.ts';
import { CHUNK_SIZE } from '../../../src/milter/wire/constants.ts';
import { Verdicts } from '../../../src/milter/types.ts';
import { decodeReplies, hex } from '../../helpers/milter-fixtures.ts';

const badReply = (err: unknown) => err instanceof ProtocolError && err.code === ErrorCode.MilterBadReply;
const badHeader = (err: unknown) => err instanceof ProtocolError && err.code === ErrorCode.MilterBadHeader;

describe('reply encoders (filter -> MTA)', () => {
  it('encodes the 0x37-length negotiation reply of reference §5.9 byte for byte', () => {
    const bytes = encodeOptnegReply({
      version: 6,
      actions: 0x19d,
      protocol: 0x393,
      symbolLists: new Map([[3, ['{rcpt_addr}', '{rcpt_mailer}', '{rcpt_host}']]]),
    });
    const want = Buffer.concat([
      hex('00 00 00 37 4F 00 00 00 06 00 00 01 9D 00 00 03 93 00 00 00 03'),
      Buffer.from('{rcpt_addr} {rcpt_mailer} {rcpt_host}\0'),
    ]);
    assert.deepEqual(bytes, want);
  });

  it('never writes an empty symbol list', () => {
    const bytes = encodeOptnegReply({ version: 6, actions: 0x100, protocol: 0, symbolLists: new Map([[0, []], [3, ['i']]]) });
    assert.deepEqual(decodeReplies(bytes), [{ kind: 'optneg', version: 6, actions: 0x100, protocol: 0, symbolLists: new Map([[3, ['i']]]) }]);
  });

  it('encodes data-less verdicts as len = 1 packets', () => {
    for (const [kind, byte] of [['continue', 'c'], ['accept', 'a'], ['reject', 'r'], ['tempfail', 't'], ['discard', 'd'], ['skip', 's']] as const) {
      assert.deepEqual(encodeVerdict({ kind }), Buffer.concat([hex('00 00 00 01'), Buffer.from(byte)]));
    }
    assert.deepEqual(PROGRESS_PACKET, hex('00 00 00 01 70'));
  });

  it('encodes the per-recipient tempfail example of reference §10', () => {
    const bytes = encodeVerdict({ kind: 'reply', code: 451, enhanced: '4.4.3', text: 'onion route lookup failed' });
    assert.deepEqual(bytes, Buffer.concat([hex('00 00 00 25 79'), Buffer.from('451 4.4.3 onion route lookup failed\0')]));
  });

  it('a frozen verdict (Verdicts.reply) is encoded once; a verdict that can change is encoded anew', () => {
    const constant = Verdicts.reply(452, '4.5.3', 'later');
    assert.ok(Object.isFrozen(constant));
    assert.equal(encodeVerdict(constant), encodeVerdict(constant), 'the same packet object');
    const mutable: { kind: 'reply'; code: number; enhanced: string; text: string } = { kind: 'reply', code: 451, enhanced: '4.4.3', text: 'first' };
    const before = encodeVerdict(mutable);
    mutable.text = 'second';
    assert.notDeepEqual(encodeVerdict(mutable), before);
    assert.match(encodeVerdict(mutable).toString('latin1'), /451 4\.4\.3 second/);
  });

  it('REPLYCODE: % doubled, multi-line with CRLF and - continuation, default enhanced code', () => {
    assert.equal(formatReplyCode(554, '5.7.1', '1% 2%% 3%%%'), '554 5.7.1 1%% 2%%%% 3%%%%%%');
    assert.equal(formatReplyCode(452, '4.5.3', ['one', 'two', 'three']), '452-4.5.3 one\r\n452-4.5.3 two\r\n452 4.5.3 three');
    assert.equal(formatReplyCode(550, undefined, 'a\nb'), '550-5.0.0 a\r\n550 5.0.0 b');
    assert.equal(formatReplyCode(421, '4.3.2', 'closing'), '421 4.3.2 closing');
  });

  it('REPLYCODE: refuses non-4xx/5xx codes, class mismatches, bad codes and oversized replies', () => {
    assert.throws(() => formatReplyCode(250, undefined, 'ok'), badReply);
    assert.throws(() => formatReplyCode(600, undefined, 'x'), badReply);
    assert.throws(() => formatReplyCode(450.5, undefined, 'x'), badReply);
    assert.throws(() => formatReplyCode(550, '4.7.23', 'class mismatch'), /does not match/);
    assert.throws(() => formatReplyCode(451, '4.7', 'x'), badReply);
    assert.throws(() => formatReplyCode(451, '2.0.0', 'x'), badReply);
    assert.throws(() => formatReplyCode(451, undefined, ['a\rb']), badReply);
    assert.throws(() => formatReplyCode(451, undefined, 'a\0b'), badReply);
    assert.throws(() => formatReplyCode(451, undefined, Array.from({ length: 33 }, () => 'x')), /33 reply lines/);
    assert.equal(formatReplyCode(451, undefined, Array.from({ length: 32 }, () => 'x')).split('\r\n').length, 32);
    assert.throws(() => formatReplyCode(451, undefined, 'x'.repeat(981)), /981 characters/);
    assert.doesNotThrow(() => formatReplyCode(451, undefined, 'x'.repeat(980)));
    assert.throws(() => encodeVerdict({ kind: 'reply', code: 250, text: 'x' }), badReply);
  });

  it('header values: CRLF and CR become LF, NUL becomes a space; names are validated', () => {
    assert.deepEqual(decodeReplies(encodeAddHeader('X-A', 'one\r\n\ttwo\rthree\0four')), [{ kind: 'addHeader', name: 'X-A', value: 'one\n\ttwo\nthree four' }]);
    assert.deepEqual(decodeReplies(encodeAddHeader('X-Empty', '')), [{ kind: 'addHeader', name: 'X-Empty', value: '' }]);
    for (const name of ['', 'Bad Name', 'Bad:Name', 'Tab\tName', 'Nön', 'X\0']) {
      assert.throws(() => encodeAddHeader(name, 'v'), badHeader, JSON.stringify(name));
    }
  });

  it('INSHEADER/CHGHEADER carry a u32 index before name and value', () => {
    assert.deepEqual(encodeInsertHeader(0, 'X-I', 'v'), Buffer.concat([hex('00 00 00 0B 69 00 00 00 00'), Buffer.from('X-I\0v\0')]));
    assert.deepEqual(decodeReplies(encodeChangeHeader(2, 'X-C', '')), [{ kind: 'changeHeader', index: 2, name: 'X-C', value: '' }]);
  });

  it('recipient and sender actions: ADDRCPT_PAR args are one string; empty args are omitted', () => {
    assert.deepEqual(decodeReplies(Buffer.concat([
      encodeAddRecipient('<a@b>'),
      encodeAddRecipientWithArgs('c@d', 'NOTIFY=NEVER ORCPT=rfc822;c@d'),
      encodeAddRecipientWithArgs('e@f', ''),
      encodeDeleteRecipient('<g@h>'),
      encodeChangeFrom('<>', 'RET=HDRS'),
      encodeChangeFrom('i@j'),
      encodeQuarantine('line\r\nbreak'),
    ])), [
      { kind: 'addRecipient', address: '<a@b>' },
      { kind: 'addRecipient', address: 'c@d', args: 'NOTIFY=NEVER ORCPT=rfc822;c@d' },
      { kind: 'addRecipient', address: 'e@f' },
      { kind: 'deleteRecipient', address: '<g@h>' },
      { kind: 'changeFrom', address: '<>', args: 'RET=HDRS' },
      { kind: 'changeFrom', address: 'i@j' },
      { kind: 'quarantine', reason: 'line break' },
    ]);
  });

  it('REPLBODY is split into packets of at most 65535 data bytes', () => {
    const body = Buffer.alloc(CHUNK_SIZE * 2 + 10, 0x61);
    const packets = encodeReplaceBody(body);
    assert.deepEqual(packets.map((p) => p.readUInt32BE(0) - 1), [CHUNK_SIZE, CHUNK_SIZE, 10]);
    const chunks = decodeReplies(Buffer.concat(packets)).map((r) => (r.kind === 'replaceBody' ? r.chunk : Buffer.alloc(0)));
    assert.deepEqual(Buffer.concat(chunks), body);
    assert.deepEqual(encodeReplaceBody(Buffer.alloc(0)), [hex('00 00 00 01 62')]);
  });

  it('the MTA-side reply decoder is strict like Postfix: no data on data-less replies, no unknown codes', () => {
    assert.throws(() => decodeReplies(hex('00 00 00 02 63 00')), /carries 1 data byte/);
    assert.throws(() => decodeReplies(hex('00 00 00 01 66')), /unexpected filter reply byte 0x66/);
    assert.throws(() => decodeReplies(Buffer.concat([hex('00 00 00 06 68'), Buffer.from('X\0v\0z')])), /trailing/);
  });
});
