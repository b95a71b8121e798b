import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ErrorCode, ProtocolError } from '../../../src/errors.ts';
import { FrameDecoder, type Frame } from '../../../src/milter/wire/frame-decoder.ts';
import { hex, postfixConversation } from '../../helpers/milter-fixtures.ts';

const plain = (frames: readonly Frame[]) => frames.map((f) => ({ code: f.code, payload: Buffer.from(f.payload).toString('hex') }));
const stream = Buffer.concat(postfixConversation());
const whole = plain(new FrameDecoder().push(stream));

function isLengthError(err: unknown): boolean {
  return err instanceof ProtocolError && err.code === ErrorCode.MilterFrameLength;
}

describe('FrameDecoder', () => {
  it('decodes the Postfix v6 OPTNEG example from the reference', () => {
    const frames = new FrameDecoder().push(hex('00 00 00 0D 4F 00 00 00 06 00 00 01 FF 00 1F FF FF'));
    assert.deepEqual(plain(frames), [{ code: 0x4f, payload: '00000006000001ff001fffff' }]);
  });

  it('yields many packets from one chunk in order', () => {
    assert.equal(whole.length, postfixConversation().length);
    assert.equal(whole[0]?.code, 0x4f);
    assert.equal(whole.at(-1)?.code, 0x51);
  });

  it('is invariant under a split at every byte offset of the fixture stream', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const d = new FrameDecoder();
      const got = [...d.push(stream.subarray(0, cut)), ...d.push(stream.subarray(cut))];
      assert.deepEqual(plain(got), whole, `cut at ${cut}`);
      assert.equal(d.hasPartial, false);
    }
  });

  it('decodes the stream fed one byte at a time', () => {
    const d = new FrameDecoder();
    const got: Frame[] = [];
    for (let i = 0; i < stream.length; i++) got.push(...d.push(stream.subarray(i, i + 1)));
    assert.deepEqual(plain(got), whole);
  });

  it('is chunking-invariant for arbitrary cut points (property)', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: stream.length }), { maxLength: 40 }), (cuts) => {
        const points = [0, ...cuts.sort((a, b) => a - b), stream.length];
        const d = new FrameDecoder();
        const got: Frame[] = [];
        for (let i = 1; i < points.length; i++) got.push(...d.push(stream.subarray(points[i - 1], points[i])));
        assert.deepEqual(plain(got), whole);
      }),
      { numRuns: 300, seed: Number(process.env['ONIONMX_FUZZ_SEED'] ?? 20261125) },
    );
  });

  it('does not alias its internal buffer in returned payloads', () => {
    const d = new FrameDecoder();
    const bytes = hex('00 00 00 03 48 61 00 00 00 00 03 48 62 00');
    const first = d.push(bytes.subarray(0, 6));
    assert.equal(first.length, 0);
    const [a, b] = d.push(bytes.subarray(6));
    assert.deepEqual([a?.payload.toString('latin1'), b?.payload.toString('latin1')], ['a\0', 'b\0']);
  });

  it('accepts len = 1 (command byte only)', () => {
    assert.deepEqual(plain(new FrameDecoder().push(hex('00 00 00 01 41'))), [{ code: 0x41, payload: '' }]);
  });

  it('refuses len = 0 with a coded ProtocolError', () => {
    assert.throws(() => new FrameDecoder().push(hex('00 00 00 00 41')), isLengthError);
  });

  it('refuses a length above the cap from the 4-byte prefix alone, before the data arrives', () => {
    const d = new FrameDecoder(1024);
    assert.throws(() => d.push(hex('00 00 04 01')), isLengthError);
    assert.throws(() => new FrameDecoder().push(hex('FF FF FF FF')), isLengthError);
    // exactly at the cap is fine
    const ok = Buffer.concat([hex('00 00 04 00 42'), Buffer.alloc(1023)]);
    assert.equal(new FrameDecoder(1024).push(ok).length, 1);
  });

  it('refuses a bad length split across chunks', () => {
    const d = new FrameDecoder(16);
    d.push(hex('00 00'));
    assert.throws(() => d.push(hex('01 00 99')), isLengthError);
  });

  it('reports a truncated packet as partial', () => {
    const d = new FrameDecoder();
    assert.deepEqual(d.push(hex('00 00 00 05 48 61')), []);
    assert.equal(d.hasPartial, true);
  });

  it('names the stream offset of a bad length', () => {
    const d = new FrameDecoder();
    assert.throws(() => d.push(hex('00 00 00 01 41 00 00 00 00')), /stream offset 5/);
  });
});
