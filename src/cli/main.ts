#!/usr/bin/env node
// The only place that calls process.exit. Each subcommand lives in its own module and returns an
// exit status (sysexits.h numbers: 64 usage, 69 unavailable, 75 temporary failure, 78 config).
import { commands } from './commands.ts';
import { EX_USAGE, UsageError } from './exit.ts';
import { errorMessage } from '../errors.ts';

function usage(): string {
  const lines = ['usage: onionmx-milter <command> [options]', '', 'commands:'];
  for (const [name, c] of Object.entries(commands)) lines.push(`  ${name.padEnd(12)} ${c.summary}`);
  lines.push('', 'Run `onionmx-milter <command> --help` for the options of one command.');
  return lines.join('\n');
}

async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name === undefined ? EX_USAGE : 0;
  }
  if (name === '--version' || name === 'version') {
    const { version } = await import('./version.ts');
    process.stdout.write(`onionmx-milter ${version()}\n`);
    return 0;
  }
  const command = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (command === undefined) {
    process.stderr.write(`onionmx-milter: unknown command '${name}'\n${usage()}\n`);
    return EX_USAGE;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`onionmx-milter ${name}: ${err.message}\n`);
      return EX_USAGE;
    }
    throw err;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`onionmx-milter: fatal: ${errorMessage(err)}\n`);
    process.exit(70);
  },
);
