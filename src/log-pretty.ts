// log.format: pretty. The daemon's JSON line, rewritten for a person at a terminal:
//   10:35:19.474Z INFO  message routed conn=k3f9a1 qid=4XbT2k0Yz7 route=smtptor:[…]:25 recipients=2
// Ours rather than pino-pretty: the lines are flat, with fields we chose, so a few dozen lines do
// it, where pino-pretty would add fifteen packages (a second major version of sonic-boom, a CLI's
// argument parsing and config-file loading among them) to a daemon that needs none of them.
import type { LineSink } from './log-batch.ts';

const LEVEL_COLOR: Readonly<Record<string, string>> = { trace: '90', debug: '36', info: '32', warn: '33', error: '31', fatal: '35' };
/** Fields every line has; shown in the prefix or not at all (`name` is always onionmx-milter). */
const PREFIX_FIELDS = new Set(['level', 'time', 'name', 'msg', 'stack']);

/** One pino JSON line (newline included) as one or more readable lines (newline included). */
export function prettyLine(line: string, color: boolean): string {
  let entry: unknown;
  try {
    entry = JSON.parse(line);
  } catch {
    return line.endsWith('\n') ? line : line + '\n';
  }
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) return line.endsWith('\n') ? line : line + '\n';
  const fields = entry as Record<string, unknown>;
  const level = typeof fields['level'] === 'string' ? fields['level'] : 'info';
  const time = typeof fields['time'] === 'string' ? fields['time'].slice(fields['time'].indexOf('T') + 1) : '';
  const label = level.toUpperCase().padEnd(5);
  const code = LEVEL_COLOR[level];
  const parts = [time, color && code !== undefined ? `\x1b[${code}m${label}\x1b[39m` : label, typeof fields['msg'] === 'string' ? fields['msg'] : ''];
  for (const [key, value] of Object.entries(fields)) {
    if (PREFIX_FIELDS.has(key) || value === undefined) continue;
    parts.push(`${key}=${formatValue(value)}`);
  }
  const stack = typeof fields['stack'] === 'string' ? '\n' + fields['stack'].replace(/^/gm, '    ') : '';
  return parts.filter((p) => p !== '').join(' ') + stack + '\n';
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') return value !== '' && !/[\s"=]/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value);
}

/** A pino destination that writes each line in the pretty form to `sink` (the daemon's batcher). */
export class PrettyLines {
  readonly #sink: LineSink;
  readonly #color: boolean;

  constructor(sink: LineSink, color: boolean) {
    this.#sink = sink;
    this.#color = color;
  }

  write(line: string): boolean {
    return this.#sink.write(prettyLine(line, this.#color));
  }
}
