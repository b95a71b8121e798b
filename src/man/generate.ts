// Writes the man pages, at build time (npm run build): onionmx-milter.8 from the commands'
// descriptions and onionmx-milter.yml.5 from examples/config.yml, into dist/man (or argv[2]).
// They are not committed: made from the same sources as --help and the example on every build,
// they cannot fall behind either; test/man checks what they say against both and the schema.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { commands } from '../cli/commands.ts';
import { commandPage } from './command-page.ts';
import { configPage } from './config-page.ts';
import { parseConfigDoc } from './config-doc.ts';
import { schemaKeys } from './config-keys.ts';
import { pageDate } from './roff.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const EXAMPLE_CONFIG_PATH = join(ROOT, 'examples/config.yml');

/** The example read as documentation, with the schema's keys telling keys from prose. */
export function exampleConfigDoc(text = readFileSync(EXAMPLE_CONFIG_PATH, 'utf8')): ReturnType<typeof parseConfigDoc> {
  const known = new Set(schemaKeys().map((k) => `${k.section}.${k.key}`));
  return parseConfigDoc(text, (section, key) => known.has(`${section}.${key}`));
}

export function manPages(date = pageDate()): { readonly name: string; readonly text: string }[] {
  const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const docs = Object.values(commands).flatMap((c) => c.docs);
  return [
    { name: 'onionmx-milter.8', text: commandPage(docs, version, date) },
    { name: 'onionmx-milter.yml.5', text: configPage(exampleConfigDoc(), version, date) },
  ];
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const out = process.argv[2] ?? join(ROOT, 'dist/man');
  mkdirSync(out, { recursive: true });
  for (const page of manPages()) writeFileSync(join(out, page.name), page.text);
}
