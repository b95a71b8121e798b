// The daemon's log output failing (the fault matrix's "log disk full" cell): lines are dropped and
// counted, nothing throws, the stream's flushSync (pino calls it at exit) stops looping on the
// failed write, and the first batch written again says how many lines were lost.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { GuardedSink, RETRY_MS } from '../../src/log-guard.ts';

class FakeStream extends EventEmitter {
  written: string[] = [];
  flushes = 0;
  write(data: string): boolean {
    this.written.push(data);
    return true;
  }
  flushSync(): void {
    this.flushes++;
  }
}

describe('GuardedSink', () => {
  it('drops lines while the output fails, retries after RETRY_MS, and reports the loss once written', () => {
    let now = 1000;
    const reports: string[] = [];
    const stream = new FakeStream();
    const sink = new GuardedSink(stream, { now: () => now, report: (m) => reports.push(m) });
    sink.write('a\n');
    stream.emit('error', Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
    assert.equal(reports.length, 1);
    assert.match(reports[0] ?? '', /log output failed \(ENOSPC/);
    sink.write('b\nc\n');
    assert.equal(sink.dropped, 2);
    assert.deepEqual(stream.written, ['a\n']);

    stream.flushSync();
    sink.flushSync();
    assert.equal(stream.flushes, 0, 'no flushSync on a stream whose last write failed');

    stream.emit('error', new Error('ENOSPC again'));
    assert.equal(reports.length, 1, 'one report per outage');
    now += RETRY_MS;
    sink.write('d\n');
    const retried = stream.written[1] ?? '';
    const [note, line] = retried.split('\n');
    const parsed = JSON.parse(note ?? '{}') as { dropped?: number; msg?: string };
    assert.equal(parsed.dropped, 2);
    assert.equal(parsed.msg, 'log output failed: lines dropped');
    assert.equal(line, 'd');
    assert.equal(sink.dropped, 0);

    stream.emit('write', retried.length);
    sink.flushSync();
    assert.equal(stream.flushes, 1, 'flushSync again once a write went through');
  });

  it('a flushSync that throws is an outage, not an exception', () => {
    const stream = new FakeStream();
    stream.flushSync = () => {
      throw new Error('EIO');
    };
    const reports: string[] = [];
    const sink = new GuardedSink(stream, { report: (m) => reports.push(m) });
    assert.doesNotThrow(() => {
      sink.flushSync();
    });
    assert.equal(reports.length, 1);
    sink.write('x\n');
    assert.equal(sink.dropped, 1);
  });
});
