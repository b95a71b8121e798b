// log.format: pretty: each JSON line as one readable line (level, time, message, then the fields),
// still handed to the batcher; auto picks pretty only on a terminal.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prettyLine, PrettyLines } from '../../src/log-pretty.ts';
import { LineBatcher } from '../../src/log-batch.ts';
import { createDaemonLogger, resolveLogFormat } from '../../src/log.ts';

const line = (o: Record<string, unknown>): string => JSON.stringify({ level: 'info', time: '2026-11-25T07:20:11.412Z', name: 'onionmx-milter', ...o }) + '\n';

describe('prettyLine', () => {
  test('time, level and message first, then every other field as key=value in order', () => {
    assert.equal(
      prettyLine(line({ conn: 'k3f9a1', qid: '4XbT2k0Yz7', route: 'smtptor:[x.onion]:25', recipients: 2, msg: 'message routed' }), false),
      '07:20:11.412Z INFO  message routed conn=k3f9a1 qid=4XbT2k0Yz7 route=smtptor:[x.onion]:25 recipients=2\n',
    );
  });

  test('quotes strings with spaces, quotes or =, and the empty string; objects and arrays as JSON', () => {
    assert.equal(
      prettyLine(line({ level: 'warn', msg: 'reload rejected', err: 'bad "x" here', empty: '', eq: 'a=b', lookup: {}, decisions: ['a.example route static', 'b none'], ok: false, n: null }), false),
      `07:20:11.412Z WARN  reload rejected err="bad \\"x\\" here" empty="" eq="a=b" lookup={} decisions=["a.example route static","b none"] ok=false n=null\n`,
    );
  });

  test('a stack goes on indented lines of its own', () => {
    assert.equal(prettyLine(line({ level: 'fatal', msg: 'uncaught error: exiting', err: 'boom', stack: 'Error: boom\n    at x (y.js:1:1)' }), false), '07:20:11.412Z FATAL uncaught error: exiting err=boom\n    Error: boom\n        at x (y.js:1:1)\n');
  });

  test('colours only the level, and only when asked', () => {
    assert.equal(prettyLine(line({ level: 'error', msg: 'm' }), true), '07:20:11.412Z \x1b[31mERROR\x1b[39m m\n');
    assert.ok(!prettyLine(line({ level: 'error', msg: 'm' }), false).includes('\x1b'));
  });

  test('passes through what is not a JSON object, with one newline', () => {
    assert.equal(prettyLine('not json', false), 'not json\n');
    assert.equal(prettyLine('[1,2]\n', false), '[1,2]\n');
  });
});

describe('pretty daemon logger', () => {
  test('pretty lines still go through the batcher: nothing reaches the sink before the batch is flushed', () => {
    const writes: string[] = [];
    const batcher = new LineBatcher({ write: (d) => writes.push(d) > 0, flushSync: () => undefined }, 4096);
    const pretty = new PrettyLines(batcher, false);
    pretty.write(line({ msg: 'one' }));
    pretty.write(line({ msg: 'two' }));
    assert.deepEqual(writes, []);
    batcher.flush();
    assert.deepEqual(writes, ['07:20:11.412Z INFO  one\n07:20:11.412Z INFO  two\n']);
  });

  test('createDaemonLogger writes readable lines in order with format pretty', () => {
    const dir = mkdtempSync(join(tmpdir(), 'onionmx-log-pretty-'));
    try {
      const path = join(dir, 'daemon.log');
      const logger = createDaemonLogger('info', path, 'pretty');
      for (let i = 0; i < 300; i++) logger.log.child({ conn: 'c1' }).info({ i }, 'line');
      logger.close();
      const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
      assert.equal(lines.length, 300);
      lines.forEach((l, i) => {
        assert.match(l, new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z INFO  line conn=c1 i=${i}$`));
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('auto is pretty on a terminal and JSON elsewhere; json and pretty are what they say', () => {
    assert.equal(resolveLogFormat('auto', true), 'pretty');
    assert.equal(resolveLogFormat('auto', false), 'json');
    assert.equal(resolveLogFormat('json', true), 'json');
    assert.equal(resolveLogFormat('pretty', false), 'pretty');
  });
});
