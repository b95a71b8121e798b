// Runs every *.test.js under dist/test. A runner of our own because `node --test <dir>` means a
// directory on Node 20 and a glob on Node 22+; this behaves the same on both.
import { readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from 'node:test';
import { spec } from 'node:test/reporters';

const root = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const files = readdirSync(root, { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.test.js'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort()
  .map((f) => join(root, f));

let failed = false;
// A hung test fails after this bound instead of stalling the whole run (CI has a time budget).
const stream = run({ files, concurrency: 2, timeout: 300_000 });
stream.on('test:fail', () => {
  failed = true;
});
// compose() is typed loosely (any) in @types/node; it returns a readable stream of report text.
(stream.compose(new spec()) as NodeJS.ReadableStream).pipe(process.stdout);
stream.once('end', () => {
  process.exitCode = failed ? 1 : 0;
});
