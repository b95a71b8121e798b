// The daemon logger's batching: lines reach the sink whole, in order, in batches, and nothing
// pending is lost on flushSync; and the JSON lines it writes keep pino's shape with an ISO time.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LineBatcher, type LineSink } from '../../src/log-batch.ts';
import { createDaemonLogger } from '../../src/log.ts';

function recordingSink(): LineSink & { writes: string[]; syncFlushes: number } {
  const sink = {
    writes: [] as string[],
    syncFlushes: 0,
    write(data: string): boolean {
      sink.writes.push(data);
      return true;
    },
    flushSync(): void {
      sink.syncFlushes++;
    },
  };
  return sink;
}

describe('LineBatcher', () => {
  test('holds lines until the batch is full, then hands them over in one write, in order', () => {
    const sink = recordingSink();
    const b = new LineBatcher(sink, 30);
    b.write('{"n":1}\n');
    b.write('{"n":2}\n');
    b.write('{"n":3}\n');
    assert.deepEqual(sink.writes, []);
    b.write('{"n":4}\n');
    assert.deepEqual(sink.writes, ['{"n":1}\n{"n":2}\n{"n":3}\n{"n":4}\n']);
    b.write('{"n":5}\n');
    assert.equal(sink.writes.length, 1);
  });

  test('flush hands over a partial batch; an empty flush writes nothing', () => {
    const sink = recordingSink();
    const b = new LineBatcher(sink, 4096);
    b.flush();
    assert.deepEqual(sink.writes, []);
    b.write('a\n');
    b.flush();
    b.flush();
    assert.deepEqual(sink.writes, ['a\n']);
  });

  test('flushSync hands over what is pending and makes the sink write it', () => {
    const sink = recordingSink();
    const b = new LineBatcher(sink, 4096);
    b.write('last words\n');
    b.flushSync();
    assert.deepEqual(sink.writes, ['last words\n']);
    assert.equal(sink.syncFlushes, 1);
  });
});

describe('createDaemonLogger', () => {
  test('writes every line, in order, as JSON with level, ISO time and name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'onionmx-log-'));
    try {
      const path = join(dir, 'daemon.log');
      const logger = createDaemonLogger('info', path);
      const child = logger.log.child({ conn: 'c1' });
      for (let i = 0; i < 500; i++) child.info({ i }, 'line');
      logger.log.debug('not at info');
      logger.close();
      const lines = readFileSync(path, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.equal(lines.length, 500);
      lines.forEach((l, i) => {
        assert.equal(l['i'], i);
        assert.equal(l['level'], 'info');
        assert.equal(l['name'], 'onionmx-milter');
        assert.equal(l['conn'], 'c1');
        assert.equal(l['msg'], 'line');
        assert.match(String(l['time']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      });
      const times = lines.map((l) => Date.parse(String(l['time'])));
      assert.ok(times.every((t, i) => i === 0 || t >= (times[i - 1] ?? 0)), 'times never go backwards');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
