// The benchmark compares like with like only if our filter and the libmilter filter negotiate the
// same events and answer a transaction the same way. This checks that premise (not any timing).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { needPrograms, systemRequired } from '../helpers/system.ts';
import { buildCFilter } from './c-filter.ts';
import { startChild, stopChild, type ReadyChild } from './child-process.ts';
import { BENCH_MODES, type BenchMode } from './milter-bench-filter.ts';
import { negotiatedEvents, openConnection, transaction } from './milter-load.ts';

const SERVER_SCRIPT = fileURLToPath(new URL('./milter-server.js', import.meta.url));

async function runTransactions(spec: string): Promise<void> {
  const client = await openConnection(spec, 0);
  try {
    await transaction(client, 'Q1');
    await transaction(client, 'Q2');
  } finally {
    await client.quit();
  }
}

describe('bench:milter filters', { skip: needPrograms('cc') }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'onionmx-bench-test-'));
  const children: ReadyChild[] = [];
  /** Listen specs by filter and mode; empty when the libmilter filter could not be built. */
  const specs = new Map<string, string>();
  let skipReason: string | undefined;

  before(async () => {
    const build = await buildCFilter(dir);
    if (!build.ok) {
      if (systemRequired) throw new Error(build.reason);
      skipReason = build.reason;
      return;
    }
    for (const mode of BENCH_MODES) {
      const cSpec = `unix:${join(dir, `c-${mode}.sock`)}`;
      children.push(await startChild(build.binary, ['-p', cSpec, '-m', mode]));
      specs.set(`c ${mode}`, cSpec);
      const ours = await startChild(process.execPath, [SERVER_SCRIPT, '--listen', `unix:${join(dir, `ours-${mode}.sock`)}`, '--mode', mode]);
      children.push(ours);
      specs.set(`ours ${mode}`, ours.detail);
    }
  });

  after(async () => {
    await Promise.all(children.map((c) => stopChild(c.child)));
    rmSync(dir, { recursive: true, force: true });
  });

  const specOf = (filter: 'c' | 'ours', mode: BenchMode): string => {
    const spec = specs.get(`${filter} ${mode}`);
    assert.ok(spec !== undefined, `${filter} ${mode} filter not started`);
    return spec;
  };

  it('negotiate the same events, with replies, in both modes', async (t) => {
    if (skipReason !== undefined) {
      t.skip(skipReason);
      return;
    }
    const expected: Record<BenchMode, string[]> = {
      all: ['connect', 'helo', 'mail', 'rcpt', 'header', 'eoh', 'body'],
      'rcpt-eom': ['rcpt'],
    };
    for (const mode of BENCH_MODES) {
      assert.deepEqual(await negotiatedEvents(specOf('c', mode)), expected[mode], `libmilter, ${mode}`);
      assert.deepEqual(await negotiatedEvents(specOf('ours', mode)), expected[mode], `ours, ${mode}`);
    }
  });

  it('both answer every event with continue and add the same header at end of message', async (t) => {
    if (skipReason !== undefined) {
      t.skip(skipReason);
      return;
    }
    for (const mode of BENCH_MODES) {
      await runTransactions(specOf('c', mode));
      await runTransactions(specOf('ours', mode));
    }
  });
});
