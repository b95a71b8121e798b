// The man pages are made at build time (src/man/generate.ts); these tests hold them to what they
// describe: onionmx-milter(8) to every command's --help as the CLI prints it, onionmx-milter.yml(5)
// to examples/config.yml, and the example to the schema's keys and defaults. Then mandoc and groff
// must read both pages without a warning, and man must render them.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';
import { commands } from '../../src/cli/commands.ts';
import { validateConfig } from '../../src/config/load.ts';
import { defaults } from '../../src/config/schema.ts';
import { schemaKeys, valueAt } from '../../src/man/config-keys.ts';
import { exampleConfigDoc, manPages } from '../../src/man/generate.ts';
import { needPrograms } from '../helpers/system.ts';
import { runCli } from '../cli/cli-helpers.ts';

const MAN_DIR = fileURLToPath(new URL('../../man/', import.meta.url));
const page = (name: string): string => readFileSync(`${MAN_DIR}${name}`, 'utf8');
/** Roff source to the words a reader sees (escapes and font changes removed). */
const plain = (roff: string): string => roff.replace(/\\f[BIR]/g, '').replace(/\\-/g, '-').replace(/\\e/g, '\\').replace(/\\&/g, '');

describe('the built man pages', () => {
  test('are what the sources make now (the build ran the generator)', () => {
    const date = /^\.TH \S+ 8 (\S+)/m.exec(page('onionmx-milter.8'))?.[1];
    assert.ok(date !== undefined, 'onionmx-milter.8 has a .TH line');
    for (const p of manPages(date)) assert.equal(page(p.name), p.text, `${p.name} is stale: run npm run build`);
  });

  test('onionmx-milter(8) has every command, option and exit status that --help prints', async () => {
    const man = plain(page('onionmx-milter.8'));
    for (const [name, command] of Object.entries(commands)) {
      for (const doc of command.docs) {
        const help = await runCli([...doc.name.split(' '), '--help']);
        assert.equal(help.status, 0, `${doc.name} --help`);
        const start = man.indexOf(`.SS ${doc.name}\n`);
        assert.ok(start >= 0, `no section for ${doc.name}`);
        const end = man.indexOf('.SS ', start + 4);
        const section = man.slice(start, end < 0 ? undefined : end);
        const options = new Set(help.stdout.match(/--[a-z][a-z-]*/g) ?? []);
        assert.ok(options.has('--help'), name);
        for (const option of options) assert.ok(section.includes(option), `${doc.name}: ${option} is in --help but not in the man page`);
        const exit = help.stdout.slice(help.stdout.indexOf('exit status:'));
        const codes = [...exit.matchAll(/^ {2}(\d+) /gm)].map((m) => m[1] ?? '');
        assert.ok(codes.includes('64'), doc.name);
        for (const code of codes) assert.match(section, new RegExp(`^\\.TP\\n${code}\\n`, 'm'), `${doc.name}: exit ${code}`);
      }
    }
  });

  test('onionmx-milter.yml(5) has every key of examples/config.yml with its default', () => {
    const man = plain(page('onionmx-milter.yml.5'));
    for (const k of exampleConfigDoc().keys) assert.match(man, new RegExp(`^${k.path.replace(/\./g, '\\.')} \\(default: `, 'm'), k.path);
  });
});

describe('examples/config.yml against the schema', () => {
  const documented = exampleConfigDoc().keys;
  const schema = schemaKeys();

  test('documents every key the schema has, and no other', () => {
    assert.deepEqual(
      documented.map((k) => k.path).sort(),
      schema.map((k) => k.path).sort(),
      'a key in only one of them: document it in examples/config.yml (a commented-out "# key: value" line counts), or fix its name',
    );
  });

  test('the default it states for each key is the schema default', () => {
    const documentedDefault = (path: string): unknown => {
      const k = documented.find((d) => d.path === path);
      assert.ok(k !== undefined, path);
      const text = k.defaultText ?? (k.commented ? 'none' : k.value);
      if (/^none\b/.test(text)) return undefined;
      const inherited = /^as ([a-z_.]+)$/.exec(text);
      if (inherited !== null) return documentedDefault(inherited[1] ?? '');
      const value = yaml.load(text, { schema: yaml.CORE_SCHEMA });
      const doc = k.section.split('.').filter((s) => s !== '').reduceRight<Record<string, unknown>>((inner, s) => ({ [s]: inner }), { [k.key]: value });
      const r = validateConfig(doc, '', undefined);
      assert.ok(r.ok, `${path}: default "${text}" does not load: ${JSON.stringify(!r.ok && r.problems)}`);
      return valueAt(r.config, path);
    };
    for (const k of schema) assert.deepEqual(documentedDefault(k.path), valueAt(defaults, k.path), `${k.path}: examples/config.yml states another default than src/config/schema.ts`);
  });
});

describe('mandoc, groff and man read the pages', () => {
  const pages = ['onionmx-milter.8', 'onionmx-milter.yml.5'];

  test('mandoc -T lint: no message at all', { skip: needPrograms('mandoc') }, () => {
    for (const p of pages) {
      const r = spawnSync('mandoc', ['-T', 'lint', '-W', 'style', `${MAN_DIR}${p}`], { encoding: 'utf8' });
      assert.equal(`${r.stdout}${r.stderr}`, '', p);
      assert.equal(r.status, 0, p);
    }
  });

  test('groff -ww -man: no warning', { skip: needPrograms('groff') }, () => {
    for (const p of pages) {
      const r = spawnSync('groff', ['-ww', '-z', '-man', `${MAN_DIR}${p}`], { encoding: 'utf8' });
      assert.equal(r.stderr, '', p);
      assert.equal(r.status, 0, p);
    }
  });

  test('man renders them', { skip: needPrograms('man') }, () => {
    for (const p of pages) {
      const text = execFileSync('man', ['-l', `${MAN_DIR}${p}`], { encoding: 'utf8', env: { ...process.env, MANWIDTH: '80', MAN_KEEP_FORMATTING: '' } });
      assert.match(text, /^NAME\n {7}onionmx-milter/m, p);
    }
  });
});
