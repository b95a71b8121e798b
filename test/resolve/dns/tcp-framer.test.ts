import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DnsTcpFramer, frameTcpMessage } from '../../../src/resolve/dns/tcp-framer.ts';
import { ErrorCode, ProtocolError } from '../../../src/errors.ts';

const one = Buffer.from('first message');
const two = Buffer.from('the second, longer message');
const stream = Buffer.concat([frameTcpMessage(one), frameTcpMessage(two)]);

describe('DnsTcpFramer', () => {
  it('reassembles messages split at every offset (two cuts)', () => {
    for (let i = 0; i <= stream.length; i++) {
      for (let j = i; j <= stream.length; j++) {
        const framer = new DnsTcpFramer();
        const out = [stream.subarray(0, i), stream.subarray(i, j), stream.subarray(j)].flatMap((c) => framer.push(c));
        assert.deepEqual(out, [one, two], `cuts at ${i}, ${j}`);
        assert.equal(framer.pendingBytes, 0);
      }
    }
  });
  it('reassembles byte by byte', () => {
    const framer = new DnsTcpFramer();
    const out: Buffer[] = [];
    for (const b of stream) out.push(...framer.push(Buffer.from([b])));
    assert.deepEqual(out, [one, two]);
  });
  it('rejects a zero-length frame and names the stream offset', () => {
    const framer = new DnsTcpFramer();
    framer.push(frameTcpMessage(one));
    assert.throws(() => framer.push(Buffer.from([0, 0])), (err: unknown) =>
      err instanceof ProtocolError && err.code === ErrorCode.DnsMalformed && err.message.includes(`offset ${one.length + 2}`));
  });
  it('rejects a frame above the cap before buffering it', () => {
    const framer = new DnsTcpFramer(100);
    assert.throws(() => framer.push(Buffer.from([0, 101, 1, 2])), ProtocolError);
  });
  it('returns copies that survive later pushes', () => {
    const framer = new DnsTcpFramer();
    const chunk = Buffer.from(frameTcpMessage(one));
    const [msg] = framer.push(chunk);
    chunk.fill(0);
    assert.deepEqual(msg, one);
  });
});
