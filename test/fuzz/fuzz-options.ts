// `--count N --seconds S --seed X --target T[,T...]` for the fuzz runner. Pure.
export const TARGETS = ['milter', 'lookup', 'dns', 'config'] as const;
export type Target = (typeof TARGETS)[number];

export interface FuzzOptions {
  readonly count: number;
  readonly seconds: number;
  readonly seed: number;
  readonly targets: readonly Target[];
}

export const DEFAULT_OPTIONS: FuzzOptions = { count: 1_000_000, seconds: 120, seed: 20261204, targets: TARGETS };

function isTarget(s: string): s is Target {
  return (TARGETS as readonly string[]).includes(s);
}

export function parseFuzzOptions(argv: readonly string[]): FuzzOptions {
  let o: FuzzOptions = DEFAULT_OPTIONS;
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i] ?? '';
    const value = argv[i + 1];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    const n = Number(value);
    switch (flag) {
      case '--count':
      case '--seconds':
      case '--seed':
        if (!Number.isInteger(n) || n < 0) throw new Error(`${flag}: not a non-negative integer: ${value}`);
        o = { ...o, [flag.slice(2)]: n };
        break;
      case '--target': {
        const targets = value.split(',');
        const bad = targets.filter((t) => !isTarget(t));
        if (bad.length > 0) throw new Error(`--target: unknown ${bad.join(', ')} (known: ${TARGETS.join(', ')})`);
        o = { ...o, targets: targets.filter(isTarget) };
        break;
      }
      default:
        throw new Error(`unknown option ${flag} (usage: --count N --seconds S --seed X --target ${TARGETS.join(',')})`);
    }
  }
  return o;
}
