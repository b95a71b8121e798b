// One description per command, from which both its --help text and its part of the man page
// onionmx-milter(8) are made, and whose options table is what the command parses: a new option
// cannot be parsed without being documented, nor documented without being parsed.

/** One option, as parseArgs takes it plus what --help and the man page say about it. */
export interface OptionDoc {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  /** The value's placeholder in the synopsis (string options), e.g. FILE. */
  readonly arg?: string;
  /** The synopsis shows it without brackets. */
  readonly required?: boolean;
  readonly help: string;
}

/** A paragraph, or a list of terms and what they mean (formats, verdicts). */
export type Block = string | { readonly list: readonly (readonly [string, string])[] };

export interface CommandDoc {
  /** As typed after onionmx-milter: `serve`, `map check`. */
  readonly name: string;
  /** One line, for the command list of `onionmx-milter --help` and the man page. */
  readonly summary: string;
  /** The positional arguments in the synopsis, e.g. `<domain|address>...`; none: the command takes none. */
  readonly operands?: string;
  readonly options: Readonly<Record<string, OptionDoc>>;
  readonly description: readonly Block[];
  /** Exit statuses and their meaning; 64 (usage) is added for every command. */
  readonly exit: readonly (readonly [number, string])[];
}

export const HELP_OPTION_DOC: OptionDoc = { type: 'boolean', short: 'h', help: 'print this help and exit' };
export const USAGE_EXIT: readonly [number, string] = [64, 'usage error (a bad option or argument)'];

const WIDTH = 100;

/** `--name ARG` / `-s, --name ARG`, as the option appears in the synopsis and the tables. */
export function optionLabel(name: string, o: OptionDoc, withShort: boolean): string {
  const long = `--${name}${o.type === 'string' ? ` ${o.arg ?? 'VALUE'}` : ''}`;
  return withShort && o.short !== undefined ? `-${o.short}, ${long}` : long;
}

/** The synopsis' words after `onionmx-milter`: name, operands, then each option. */
export function synopsisWords(doc: CommandDoc): string[] {
  const options = Object.entries(doc.options).map(([name, o]) => (o.required === true ? optionLabel(name, o, false) : `[${optionLabel(name, o, false)}]`));
  return [doc.name, ...(doc.operands === undefined ? [] : [doc.operands]), ...options];
}

/**
 * Word-wraps `text` into lines of `width` columns, every line after the first indented by
 * `indent`; the first line has `firstWidth` columns (less, when the caller puts something before it).
 */
export function wrap(text: string, width: number, indent = '', firstWidth = width): string {
  return wrapTokens(text.split(/\s+/), width, indent, firstWidth);
}

/** wrap for tokens that must not be broken (`[--config FILE]`). */
function wrapTokens(tokens: readonly string[], width: number, indent: string, firstWidth = width): string {
  const lines: string[] = [];
  let line = '';
  for (const word of tokens.filter((w) => w !== '')) {
    const candidate = line === '' ? word : `${line} ${word}`;
    if (candidate.length > (lines.length === 0 ? firstWidth : width - indent.length) && line !== '') {
      lines.push(line);
      line = word;
    } else {
      line = candidate;
    }
  }
  if (line !== '') lines.push(line);
  return lines.join(`\n${indent}`);
}

function table(rows: readonly (readonly [string, string])[]): string {
  const column = Math.min(24, Math.max(...rows.map(([term]) => term.length)) + 2);
  return rows
    .map(([term, text]) => {
      const head = `  ${term.padEnd(column)}`;
      const body = wrap(text, WIDTH, ' '.repeat(column + 2), WIDTH - head.length);
      return term.length + 2 > column ? `  ${term}\n${' '.repeat(column + 2)}${wrap(text, WIDTH, ' '.repeat(column + 2), WIDTH - column - 2)}` : `${head}${body}`;
    })
    .join('\n');
}

/** The text `onionmx-milter <command> --help` prints. */
export function renderHelp(doc: CommandDoc): string {
  const lead = `usage: onionmx-milter ${doc.name}`;
  const usage = wrapTokens([lead, ...synopsisWords(doc).slice(1)], WIDTH, ' '.repeat(lead.length + 1));
  const description = doc.description.map((b) => (typeof b === 'string' ? wrap(b, WIDTH) : table(b.list)));
  const options = table([...Object.entries(doc.options), ['help', HELP_OPTION_DOC] as const].map(([name, o]) => [optionLabel(name, o, true), o.help]));
  const exit = table([...doc.exit, USAGE_EXIT].map(([code, text]) => [String(code), text]));
  return [usage, ...description, `options:\n${options}`, `exit status:\n${exit}`].join('\n\n');
}
