// The relay's write coalescing: what is written in one event-loop turn reaches the stream's
// underlying write once, in order; the next turn writes again; a destroyed stream is left alone.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { CoalescingWriter } from '../../src/relay/coalesce.ts';

/** A Writable that records each underlying write (one entry per _write or _writev call). */
function recorder(): { readonly stream: Writable; readonly calls: string[] } {
  const calls: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      calls.push(chunk.toString());
      done();
    },
    writev(chunks, done) {
      calls.push(chunks.map((c) => String(c.chunk)).join(''));
      done();
    },
  });
  return { stream, calls };
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('relay write coalescing', () => {
  it('writes of one turn, promise continuations included, go out as one write, in order', async () => {
    const { stream, calls } = recorder();
    const out = new CoalescingWriter(stream);
    out.write('MAIL FROM:<s@example.org>\r\n');
    await Promise.resolve();
    out.write(Buffer.from('RCPT TO:<r@example.net>\r\n'));
    assert.deepEqual(calls, [], 'nothing before the turn ends');
    await nextTurn();
    assert.deepEqual(calls, ['MAIL FROM:<s@example.org>\r\nRCPT TO:<r@example.net>\r\n']);
    out.write('DATA\r\n');
    await nextTurn();
    assert.deepEqual(calls.slice(1), ['DATA\r\n'], 'a later turn is a write of its own');
  });

  it('leaves a stream destroyed meanwhile alone', async () => {
    const { stream, calls } = recorder();
    const out = new CoalescingWriter(stream);
    out.write('QUIT\r\n');
    stream.destroy();
    await nextTurn();
    assert.deepEqual(calls, []);
  });
});
