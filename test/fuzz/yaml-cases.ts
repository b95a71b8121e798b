// Mutated YAML documents for the config and map loaders: line-level edits a person (or a broken
// deploy) makes, hostile values, YAML features (anchors and alias fan-out, tags, flow collections,
// deep nesting, duplicate keys, tabs, BOMs, documents) and raw byte mutations. Pure.
import { mutateBytes } from './mutate.ts';
import type { Prng } from './prng.ts';

const VALUES = [
  '', '~', 'null', '-1', '0', '1e309', '0x10', '0o777', '.inf', '.nan', 'true', 'yes', '[]', '{}', '[a, b', '{a: 1', '"unterminated', "'x'",
  '!!binary aGVsbG8=', '!!js/function "x"', '!unknown x', '&a x', '*a', '*nothing', '>-\n  folded', '|\n  literal', '"\\u0000"', '"\\x85"', '\t', '\u00a0',
  '2s', '500', '1000000000000000000000', '-5m', 'inet:999.1.1.1:1', 'unix:', 'unix:relative', 'inet:[::1]:0', '127.0.0.1:99999', 'x'.repeat(5000),
  'aj3nsqqcksrrc5cye5etjsoewz6jrygpekzwoko3q6wyxjlb3dgasfid.onion', 'blackhost5xlrhev.onion', '"\u202e"', '\ufeff',
];
const KEYS = ['milter', 'listen', 'dns', 'servers', 'cache', 'relay', 'pool', 'header', 'format', 'maps', 'lookup', 'tor', 'socks', '<<', '? complex', '"quoted key"', 'x'.repeat(300), '- item', '__proto__', 'constructor'];

function deep(rng: Prng): string {
  const n = rng.pick([50, 500, 5000, 20000]);
  return rng.chance(0.5) ? `${'['.repeat(n)}${']'.repeat(n)}` : `${'{a: '.repeat(n)}1${'}'.repeat(n)}`;
}

/** A "billion laughs" document: each level aliases the previous one ten times. */
function aliasFanOut(rng: Prng): string {
  const levels = 2 + rng.below(8);
  const lines = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
  for (let i = 1; i <= levels; i++) lines.push(`a${i}: &a${i} [${Array.from({ length: 10 }, () => `*a${i - 1}`).join(', ')}]`);
  return lines.join('\n');
}

export function mutateYaml(text: string, rng: Prng): string {
  const lines = text.split('\n');
  const rounds = 1 + rng.below(3);
  for (let r = 0; r < rounds; r++) {
    const i = rng.below(lines.length);
    const line = lines[i] ?? '';
    const indent = /^\s*/.exec(line)?.[0] ?? '';
    switch (rng.below(12)) {
      case 0:
        lines.splice(i, 1);
        break;
      case 1:
        lines.splice(i, 0, line);
        break;
      case 2: {
        const colon = line.indexOf(':');
        if (colon >= 0) lines[i] = `${line.slice(0, colon + 1)} ${rng.pick(VALUES)}`;
        break;
      }
      case 3:
        lines[i] = `${rng.chance(0.5) ? indent : indent.slice(0, Math.max(0, indent.length - 2))}${rng.pick(KEYS)}: ${rng.pick(VALUES)}`;
        break;
      case 4:
        lines[i] = rng.chance(0.5) ? `  ${line}` : line.replace(/^ {1,2}/, rng.chance(0.5) ? '' : '\t');
        break;
      case 5:
        lines.splice(i, 0, `${indent}${rng.pick(KEYS)}: ${deep(rng)}`);
        break;
      case 6:
        lines.splice(i, 0, aliasFanOut(rng));
        break;
      case 7:
        lines.splice(i, 0, rng.pick(['---', '...', '%YAML 1.2', '%TAG ! tag:x,2000:', '\ufeff', '? ', '- x', '#', '&a', '<<: *a']));
        break;
      case 8:
        lines[i] = line.replace(/[a-z]/, (c) => String.fromCharCode(c.charCodeAt(0) + 1)); // a typo in a key
        break;
      case 9: {
        const j = rng.below(lines.length);
        [lines[i], lines[j]] = [lines[j] ?? '', line];
        break;
      }
      case 10:
        lines.length = rng.below(lines.length + 1);
        break;
      default:
        lines[i] = mutateBytes(Buffer.from(line, 'utf8'), rng).toString('utf8');
    }
  }
  const out = lines.join('\n');
  return rng.chance(0.1) ? mutateBytes(Buffer.from(out, 'utf8'), rng).toString('utf8') : out;
}
