// The config and map campaign: mutated examples/config.yml through parseConfigText (what `check`
// and `serve` run) and mutated map files through the map loader. Oracles: never a throw, and
// every problem has a location: a config problem names its key path and, whenever that key is
// written in the text, its line; a map problem names its file and, for an entry, its line.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { formatProblem, parseConfigText } from '../../src/config/load.ts';
import { staticMapFromTexts } from '../../src/resolve/maps/index.ts';
import { EXAMPLE_CONFIG } from '../helpers/e2e-daemon.ts';
import { mutateYaml } from './yaml-cases.ts';
import { Prng } from './prng.ts';
import { deadlineOf, fail, newReport, round, type Budget, type TargetReport } from './campaign.ts';

const MAPS = ['onionmx-map.yml', 'native.yml'].map((name) => ({
  name,
  text: readFileSync(fileURLToPath(new URL(`../../../test/fixtures/maps/${name}`, import.meta.url)), 'utf8'),
}));
/** Problems of a whole file, which have no line. */
const WHOLE_FILE = new Set(['unreadable', 'not-a-mapping', 'empty', 'no-map-files']);

/** What is wrong with the problems of one config text, or undefined. */
export function judgeConfig(text: string): string | undefined {
  const r = parseConfigText(text, 'config.yml');
  if (r.ok) return undefined;
  if (r.problems.length === 0) return 'refused without a problem';
  for (const p of r.problems) {
    if (p.path === '' || p.message === '') return `a problem without path or message: ${JSON.stringify(p)}`;
    const key = p.path.split('.').at(-1) ?? '';
    const written = /^[a-z_]+$/.test(key) && new RegExp(`^\\s*-?\\s*${key}\\s*:`, 'm').test(text);
    if (p.line === undefined && written) return `no line for ${formatProblem('config.yml', p)}`;
  }
  return undefined;
}

export function judgeMap(file: string, text: string): string | undefined {
  const map = staticMapFromTexts([{ file, text }]);
  for (const p of map.problems) {
    if (p.file !== file || p.message === '') return `a problem without file or message: ${JSON.stringify(p)}`;
    if (p.line === undefined && !WHOLE_FILE.has(p.code)) return `no line for ${p.code}: ${p.message}`;
  }
  return undefined;
}

export function fuzzConfig(budget: Budget): TargetReport {
  const report = newReport('config');
  const example = readFileSync(EXAMPLE_CONFIG, 'utf8');
  const rng = new Prng(budget.seed);
  const started = Date.now();
  const deadline = deadlineOf(budget);
  let configs = 0;
  let maps = 0;
  let refused = 0;
  for (let i = 0; i < budget.count && Date.now() < deadline; i++) {
    const isConfig = i % 2 === 0;
    const source = isConfig ? { name: 'config.yml', text: example } : rng.pick(MAPS);
    const text = mutateYaml(source.text, rng);
    report.inputs++;
    report.packets++;
    report.bytes += text.length;
    let wrong: string | undefined;
    try {
      if (isConfig) {
        configs++;
        wrong = judgeConfig(text);
        if (!parseConfigText(text, 'config.yml').ok) refused++;
      } else {
        maps++;
        wrong = judgeMap(source.name, text);
      }
    } catch (err) {
      report.crashes++;
      wrong = `threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`;
    }
    if (wrong !== undefined) fail(report, `seed ${budget.seed} input ${i} (${source.name}): ${wrong}\n--- input ---\n${text.length > 3000 ? `${text.slice(0, 3000)}...` : text}\n---`);
  }
  report.seconds = round((Date.now() - started) / 1000);
  Object.assign(report.figures, { configs, configsRefused: refused, maps, inputsPerSecond: Math.round(report.inputs / Math.max(report.seconds, 0.001)) });
  return report;
}
