// Builds the libmilter comparison filter (c/bench-filter.c) into a temp dir at bench time.
// A missing compiler or libmilter is not an error: the benchmark reports why and skips the comparison.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findProgram } from '../helpers/system.ts';

export type CFilterBuild = { readonly ok: true; readonly binary: string } | { readonly ok: false; readonly reason: string };

// Compiled to dist/test/bench/, the source stays in test/bench/c/.
const SOURCE = fileURLToPath(new URL('../../../test/bench/c/bench-filter.c', import.meta.url));

export function buildCFilter(outDir: string): Promise<CFilterBuild> {
  const compiler = findProgram('cc') ?? findProgram('gcc');
  if (compiler === undefined) return Promise.resolve({ ok: false, reason: 'no C compiler (cc/gcc); install gcc' });
  if (!existsSync(SOURCE)) return Promise.resolve({ ok: false, reason: `source not found: ${SOURCE}` });
  const binary = join(outDir, 'bench-filter');
  const args = ['-O2', '-o', binary, SOURCE, '-lmilter', '-lpthread'];
  return new Promise((resolve) => {
    execFile(compiler, args, (err, _stdout, stderr) => {
      if (err === null) {
        resolve({ ok: true, binary });
        return;
      }
      const hint = /libmilter|lmilter|mfapi\.h/.test(stderr) ? ' (install libmilter-dev)' : '';
      resolve({ ok: false, reason: `building the libmilter filter failed${hint}: ${stderr.trim() || err.message}` });
    });
  });
}
