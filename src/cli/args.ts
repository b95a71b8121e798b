// Argument parsing shared by every command: node:util parseArgs (strict) with the command's options
// plus -h/--help, which prints the command's usage text. A bad command line becomes a UsageError
// (main prints it and exits 64) whose message names the offending argument in one line.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './exit.ts';
import { errorMessage } from '../errors.ts';
import { renderHelp, type CommandDoc } from './command-doc.ts';

/** What parseArgs accepts as `options` (@types/node does not export the name). */
type ParseArgsOptionsConfig = NonNullable<ParseArgsConfig['options']>;

const HELP_OPTION = { help: { type: 'boolean', short: 'h' } } as const;

export interface CommandSpec<O extends ParseArgsOptionsConfig, P extends boolean> {
  /** Printed, with a final newline, for -h/--help. */
  readonly usage: string;
  /** The command's options; -h/--help is added. */
  readonly options: O;
  /** Whether the command takes positional arguments (default: no; any is then a usage error). */
  readonly allowPositionals?: P;
  /** Where the usage text goes (default: standard output). */
  readonly out?: { write(text: string): unknown };
}

type StrictConfig<O extends ParseArgsOptionsConfig, P extends boolean> = {
  args: string[];
  options: O & typeof HELP_OPTION;
  allowPositionals: P;
  strict: true;
};

type Parsed<O extends ParseArgsOptionsConfig, P extends boolean> = ReturnType<typeof parseArgs<StrictConfig<O, P>>>;

/**
 * Either the usage text was printed (`help: true`: the command returns 0), or the values and
 * positionals with parseArgs' own inferred types (a string option is `string | undefined`, a
 * boolean one `boolean | undefined`; positionals are `[]` unless allowPositionals is true).
 */
export type CommandArgs<O extends ParseArgsOptionsConfig, P extends boolean> =
  | { readonly help: true }
  | { readonly help: false; readonly values: Parsed<O, P>['values']; readonly positionals: Parsed<O, P>['positionals'] };

export function parseCommandArgs<const O extends ParseArgsOptionsConfig, const P extends boolean = false>(args: readonly string[], spec: CommandSpec<O, P>): CommandArgs<O, P> {
  const config: StrictConfig<O, P> = {
    args: [...args],
    options: { ...spec.options, ...HELP_OPTION },
    // P is inferred as its default, false, when the spec leaves the flag out.
    allowPositionals: spec.allowPositionals ?? (false as P),
    strict: true,
  };
  let parsed: Parsed<O, P>;
  try {
    parsed = parseArgs(config);
  } catch (err) {
    throw new UsageError(explainRejection(config.args, config.options, config.allowPositionals) ?? errorMessage(err));
  }
  // The generic values type stays unresolved here; every instance has the optional boolean `help`.
  const common: { readonly help?: boolean } = parsed.values;
  if (common.help === true) {
    (spec.out ?? process.stdout).write(spec.usage + '\n');
    return { help: true };
  }
  return { help: false, values: parsed.values, positionals: parsed.positionals };
}

/** parseCommandArgs for a documented command: its options, its --help text, positionals when it has operands. */
export function parseCommand<const O extends ParseArgsOptionsConfig>(args: readonly string[], doc: CommandDoc & { readonly options: O }): CommandArgs<O, boolean> {
  return parseCommandArgs<O, boolean>(args, { usage: renderHelp(doc), options: doc.options, allowPositionals: doc.operands !== undefined });
}

/**
 * Why strict parseArgs rejected `args`, in one line. Node's own messages run over three lines for
 * an option value that starts with '-', suggest '--' quoting to commands that take no arguments,
 * and leave a quote unclosed; this finds the first offending token (tokenising does not depend on
 * `strict`) and applies the same checks in the same order. undefined when none applies.
 */
function explainRejection(args: string[], options: ParseArgsOptionsConfig, allowPositionals: boolean): string | undefined {
  const { tokens } = parseArgs({ args, options, allowPositionals: true, strict: false, tokens: true });
  for (const t of tokens) {
    if (t.kind === 'positional') {
      if (!allowPositionals) return `unexpected argument '${t.value}': this command takes only options; see --help`;
      continue;
    }
    if (t.kind !== 'option') continue;
    const option = Object.hasOwn(options, t.name) ? options[t.name] : undefined;
    if (option === undefined) return `unknown option '${t.rawName}'; see --help`;
    if (option.type === 'boolean' && t.value !== undefined) return `${t.rawName} takes no value (got '${t.value}')`;
    if (option.type === 'string') {
      if (t.value === undefined) return `${t.rawName} needs a value; see --help`;
      if (!t.inlineValue && t.value.length > 1 && t.value.startsWith('-')) {
        return `${t.rawName} needs a value, but the next argument '${t.value}' looks like an option; if it is the value, write --${t.name}=${t.value}`;
      }
    }
  }
  return undefined;
}
