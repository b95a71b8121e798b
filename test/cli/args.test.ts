// The argument parser every command shares (src/cli/args.ts): --help, one-line usage errors, typed
// values; then, through the real CLI, that every command uses it.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCommandArgs } from '../../src/cli/args.ts';
import { UsageError } from '../../src/cli/exit.ts';
import { commands } from '../../src/cli/commands.ts';
import { runCli } from './cli-helpers.ts';

const USAGE = 'usage: demo [--config FILE] [--json] [-o FILE] <name>...';

function sink(): { write(text: string): void; text: string } {
  return {
    text: '',
    write(text: string) {
      this.text += text;
    },
  };
}

const demo = (args: readonly string[], out = sink()) =>
  parseCommandArgs(args, {
    usage: USAGE,
    allowPositionals: true,
    out,
    options: { config: { type: 'string' }, json: { type: 'boolean' }, output: { type: 'string', short: 'o' } },
  });

const noPositionals = (args: readonly string[]) => parseCommandArgs(args, { usage: USAGE, out: sink(), options: { grace: { type: 'string' } } });

function usageError(run: () => unknown, message: string): void {
  assert.throws(run, (err: unknown) => {
    assert.ok(err instanceof UsageError, String(err));
    assert.equal(err.message, message);
    return true;
  });
}

describe('parseCommandArgs', () => {
  test('--help and -h print the usage text and report help', () => {
    for (const flag of ['--help', '-h']) {
      const out = sink();
      const r = demo(['x', flag, '--json'], out);
      assert.deepEqual(r, { help: true }, flag);
      assert.equal(out.text, USAGE + '\n', flag);
    }
  });

  test('a good parse returns the values and positionals and prints nothing', () => {
    const out = sink();
    const r = demo(['--config', 'c.yml', 'a.example', '--json', '-o', 'out.txt', 'b.example'], out);
    assert.equal(r.help, false);
    if (r.help) return;
    assert.equal(r.values.config, 'c.yml');
    assert.equal(r.values.json, true);
    assert.equal(r.values.output, 'out.txt');
    assert.equal(r.values.help, undefined);
    assert.deepEqual(r.positionals, ['a.example', 'b.example']);
    assert.equal(out.text, '');
  });

  test("a lone '-' is a value (standard output), and --opt=-x passes a value that starts with '-'", () => {
    const r = demo(['-o', '-', '--config=-odd.yml']);
    if (r.help) assert.fail('no help expected');
    assert.equal(r.values.output, '-');
    assert.equal(r.values.config, '-odd.yml');
  });

  test('an unknown option is a one-line usage error naming it', () => {
    usageError(() => demo(['--bogus', 'x']), "unknown option '--bogus'; see --help");
    usageError(() => demo(['-z']), "unknown option '-z'; see --help");
    // --help does not excuse a bad option.
    usageError(() => demo(['--help', '--bogus']), "unknown option '--bogus'; see --help");
  });

  test('a missing value is a usage error naming the option as typed', () => {
    usageError(() => demo(['x', '--config']), '--config needs a value; see --help');
    usageError(() => demo(['x', '-o']), '-o needs a value; see --help');
    usageError(() => demo(['--config', '--json', 'x']), "--config needs a value, but the next argument '--json' looks like an option; if it is the value, write --config=--json");
  });

  test('a value given to a flag is a usage error', () => {
    usageError(() => demo(['--json=yes']), "--json takes no value (got 'yes')");
  });

  test('positionals are refused unless the command takes them', () => {
    usageError(() => noPositionals(['--grace', '5', 'extra']), "unexpected argument 'extra': this command takes only options; see --help");
    const r = noPositionals(['--grace', '5']);
    if (r.help) assert.fail('no help expected');
    assert.equal(r.values.grace, '5');
    assert.deepEqual(r.positionals, []);
  });
});

describe('every command parses through it', () => {
  // `map` is a group: its one subcommand is `map check`.
  const argv = (name: string): string[] => (name === 'map' ? ['map', 'check'] : [name]);

  test('--help prints the usage on stdout and exits 0', async () => {
    for (const name of Object.keys(commands)) {
      const r = await runCli([...argv(name), '--help']);
      assert.equal(r.status, 0, `${name}: ${r.stderr}`);
      assert.ok(r.stdout.startsWith(`usage: onionmx-milter ${argv(name).join(' ')}`), `${name}: ${r.stdout}`);
      assert.equal(r.stderr, '', name);
    }
  });

  test('an unknown option exits 64 with one line on stderr', async () => {
    for (const name of Object.keys(commands)) {
      const r = await runCli([...argv(name), '--bogus']);
      assert.equal(r.status, 64, name);
      assert.equal(r.stderr, `onionmx-milter ${name}: unknown option '--bogus'; see --help\n`, name);
      assert.equal(r.stdout, '', name);
    }
  });
});
