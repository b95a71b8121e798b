// The cheap cells of the fault matrix (`npm run faults` runs them all): DNS SERVFAIL, the
// SocksPort down, SIGHUP with a broken config. Each against the real lab: Postfix, serve, the relay.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { needPrograms, needRoot } from '../helpers/system.ts';
import { startLab, type Lab } from './lab.ts';
import { selectCells } from './cells.ts';
import { formatTable, runCell } from './matrix.ts';
import { REQUIRED_PROGRAMS } from './required.ts';

const skip = needRoot() || needPrograms(...REQUIRED_PROGRAMS);

describe('fault matrix, smoke cells', { skip }, () => {
  let lab: Lab;
  before(async () => {
    lab = await startLab();
  });
  after(async () => {
    await lab.close();
  });

  for (const cell of selectCells([], true)) {
    it(`${cell.group}: ${cell.name}: no clearnet delivery, nothing lost or duplicated, recovers`, async () => {
      const result = await runCell(lab, cell);
      assert.deepEqual(result.violations, [], formatTable([result]));
      assert.ok(result.accepted > 0);
    });
  }
});
