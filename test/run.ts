// Runs every *.test.js under dist/test. A runner of our own because `node --test <dir>` means a
// directory on Node 20 and a glob on Node 22+; this behaves the same on both. Its last lines
// name every skipped suite and test with the reason and the fix (see runner/skips.ts).
// Usage: node dist/test/run.js [--root DIR] [substring-of-test-path...]
import { readdirSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from 'node:test';
import { spec } from 'node:test/reporters';
import { formatSkips, skipOf, type Skip } from './runner/skips.ts';

const args = process.argv.slice(2);
const rootAt = args.indexOf('--root');
const root = rootAt >= 0 ? resolve(args[rootAt + 1] ?? '.') : dirname(fileURLToPath(import.meta.url));
const only = rootAt >= 0 ? args.filter((_, i) => i !== rootAt && i !== rootAt + 1) : args;
const files = readdirSync(root, { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.test.js'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort()
  .map((f) => join(root, f));

let failed = false;
const skips: Skip[] = [];
// A hung test fails after this bound instead of stalling the whole run (CI has a time budget).
const stream = run({ files, concurrency: 2, timeout: 300_000 });
stream.on('test:fail', () => {
  failed = true;
});
stream.on('test:pass', (event) => {
  const skip = skipOf(event, root);
  if (skip !== undefined) skips.push(skip);
});
// compose() is typed loosely (any) in @types/node; it returns a readable stream of report text.
const report = stream.compose(new spec()) as NodeJS.ReadableStream;
report.pipe(process.stdout);
report.once('end', () => {
  process.stdout.write(formatSkips(skips).join('\n') + '\n');
  process.exitCode = failed ? 1 : 0;
});
