// The off-thread loader (the daemon's, since a 50k-entry map reloaded on the main thread stopped
// it answering for 2 s: the fault matrix's SIGHUP cell) gives exactly what the in-thread one does.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadStaticMaps, loadStaticMapsOffThread } from '../../../src/resolve/maps/index.ts';
import { SLICE_ENTRIES } from '../../../src/resolve/maps/load-off-thread.ts';

const FIXTURES = fileURLToPath(new URL('../../../../test/fixtures/maps/', import.meta.url));
const ONION = 'pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion';

describe('loadStaticMapsOffThread', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'maps-off-thread-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('the fixtures: same entries, problems and stats as loadStaticMaps', async () => {
    for (const options of [{}, { parentMatch: true }]) {
      const here = await loadStaticMaps([FIXTURES], options);
      const there = await loadStaticMapsOffThread([FIXTURES], options);
      assert.deepEqual(there.entries(), here.entries());
      assert.deepEqual(there.problems, here.problems);
      assert.deepEqual(there.stats, here.stats);
      assert.equal(there.isComplete, here.isComplete);
      assert.deepEqual(there.lookup('sub.parent.example'), here.lookup('sub.parent.example'));
    }
  });

  it('a map of many slices, with problems beyond one slice, arrives whole', async () => {
    const n = SLICE_ENTRIES * 3 + 7;
    const lines = Array.from({ length: n }, (_, i) => `d${i}.big.example: ${ONION}`);
    lines.push(...Array.from({ length: SLICE_ENTRIES + 1 }, (_, i) => `bad${i}.big.example: not-an-onion`), `.parent.big.example: ${ONION}`);
    const file = join(dir, 'big.yml');
    writeFileSync(file, `${lines.join('\n')}\n`);
    const here = await loadStaticMaps([file]);
    const there = await loadStaticMapsOffThread([file]);
    assert.equal(there.stats.domains, n + 1);
    assert.deepEqual(there.stats, here.stats);
    assert.deepEqual(there.problems, here.problems);
    assert.deepEqual(there.lookup(`d${n - 1}.big.example`), here.lookup(`d${n - 1}.big.example`));
    assert.equal(there.lookup('x.parent.big.example').kind, 'route');
    assert.ok(Object.isFrozen(there.lookup('d0.big.example')));
  });

  it('an unreadable path is reported as loadStaticMaps reports it, not thrown', async () => {
    const there = await loadStaticMapsOffThread([join(dir, 'missing.yml')]);
    assert.equal(there.isComplete, false);
    assert.deepEqual(there.problems, (await loadStaticMaps([join(dir, 'missing.yml')])).problems);
  });
});
