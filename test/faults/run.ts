// `npm run faults`: the fault matrix. Starts the lab once, runs each cell in order, prints the
// table and exits 1 when a cell broke its invariants (or the lab could not start).
// Usage: node dist/test/faults/run.js [--smoke] [substring of "group: cell"...]
import { needPrograms, needRoot } from '../helpers/system.ts';
import { startLab } from './lab.ts';
import { selectCells } from './cells.ts';
import { REQUIRED_PROGRAMS } from './required.ts';
import { failedCell, formatTable, runCell, type CellResult } from './matrix.ts';


async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const cells = selectCells(args.filter((a) => a !== '--smoke'), args.includes('--smoke'));
  const missing = needRoot() || needPrograms(...REQUIRED_PROGRAMS);
  if (missing !== false) {
    process.stderr.write(`faults: cannot run: ${missing}\n`);
    return 1;
  }
  if (cells.length === 0) {
    process.stderr.write('faults: no cell matches\n');
    return 1;
  }
  const lab = await startLab();
  const results: CellResult[] = [];
  try {
    for (const cell of cells) {
      const started = Date.now();
      process.stdout.write(`cell ${cell.group}: ${cell.name} ... `);
      const result = await runCell(lab, cell).catch((err: unknown) => failedCell(cell, err));
      results.push(result);
      process.stdout.write(`${result.violations.length === 0 ? 'ok' : 'FAIL'} (${Date.now() - started} ms)\n`);
    }
  } finally {
    await lab.close();
  }
  process.stdout.write(`\n${formatTable(results)}\n`);
  return results.some((r) => r.violations.length > 0) ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`faults: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
