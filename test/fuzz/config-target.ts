// The config and map campaign: mutated examples/config.yml through parseConfigText (what `check`
// and `serve` run) and, for some of the configs it accepts, through buildResolver (what they run
// next); mutated map files through the map loader; and a few of the mutated configs through the
// real `check` and `serve` commands. Oracles: never a throw, `check` exits 0 or 78 and `serve`
// refuses what `check` refuses (78), both without a stack trace; failures are minimised; and
// every problem has a location: a config problem names its key path and, whenever that key is
// written in the text, its line, and that line is one the key is written on; a map problem names
// its file and, for an entry, its line.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatProblem, parseConfigText } from '../../src/config/load.ts';
import { silentLogger } from '../../src/log.ts';
import { buildResolver } from '../../src/resolve/from-config.ts';
import { runCli } from '../cli/cli-helpers.ts';
import { staticMapFromTexts } from '../../src/resolve/maps/index.ts';
import { EXAMPLE_CONFIG } from '../helpers/e2e-daemon.ts';
import { mutateYaml } from './yaml-cases.ts';
import { minimiseLines } from './minimise.ts';
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
    // A line, when given, is one the key is written on (YAML also breaks lines at a lone CR).
    const onLine = p.line === undefined ? undefined : text.split(/\r?\n/)[p.line - 1];
    if (onLine !== undefined && /^[a-z_]+$/.test(key) && !onLine.split('\r').some((l) => new RegExp(`^\\s*(-\\s+)?["']?${key}["']?\\s*:`).test(l))) {
      return `${formatProblem('config.yml', p)}: line ${p.line} is ${JSON.stringify(onLine.slice(0, 120))}`;
    }
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

/** The smallest text found that fails the same way (same message up to its first colon). */
function minimised(text: string, wrong: string, judge: (text: string) => string | undefined): string {
  const kind = wrong.split(':')[0];
  const sameFailure = (t: string): boolean => {
    let w: string | undefined;
    try {
      w = judge(t);
    } catch (err) {
      w = `threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`;
    }
    return w?.split(':')[0] === kind;
  };
  return sameFailure(text) ? minimiseLines(text, sameFailure) : text;
}

/** `check --offline` (and, when it refuses, `serve`) on one text: what is wrong with how they ended, or undefined. */
async function judgeCheck(dir: string, text: string): Promise<string | undefined> {
  const path = join(dir, 'config.yml');
  writeFileSync(path, text);
  const run = await runCli(['check', '--offline', '--config', path], { timeoutMs: 30_000 });
  if (run.status !== 0 && run.status !== 78) return `check exited ${String(run.status)}: ${run.stderr.slice(0, 400)}`;
  if (/^\s+at /m.test(run.stderr) || /Error:/.test(run.stderr)) return `check printed a stack trace: ${run.stderr.slice(0, 400)}`;
  // Refused at the config itself (before `config: <file>`): serve must refuse it too, before binding anything.
  if (run.status !== 78 || run.stdout.includes('config: ')) return undefined;
  const serve = await runCli(['serve', '--allow-root', '--config', path], { timeoutMs: 30_000 });
  if (serve.status !== 78) return `check refused the config but serve exited ${String(serve.status)}: ${serve.stderr.slice(0, 400)}`;
  if (/^\s+at /m.test(serve.stderr) || /Error:/.test(serve.stderr)) return `serve printed a stack trace: ${serve.stderr.slice(0, 400)}`;
  return undefined;
}

export async function fuzzConfig(budget: Budget): Promise<TargetReport> {
  const report = newReport('config');
  const example = readFileSync(EXAMPLE_CONFIG, 'utf8');
  const rng = new Prng(budget.seed);
  const started = Date.now();
  const deadline = deadlineOf(budget);
  const dir = mkdtempSync(join(tmpdir(), 'onionmx-fuzz-config-'));
  const checkRuns = Math.min(10, Math.ceil(budget.count / 1000));
  let configs = 0;
  let maps = 0;
  let refused = 0;
  let built = 0;
  let checked = 0;
  try {
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
          const parsed = parseConfigText(text, 'config.yml');
          if (!parsed.ok) refused++;
          else if (rng.chance(0.05)) {
            built++;
            const r = await buildResolver(parsed.config, silentLogger());
            if (r.ok) await r.close();
          }
          if (checked < checkRuns && (!parsed.ok || rng.chance(0.1))) {
            checked++;
            wrong ??= await judgeCheck(dir, text);
          }
        } else {
          maps++;
          wrong = judgeMap(source.name, text);
        }
      } catch (err) {
        report.crashes++;
        wrong = `threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`;
      }
      if (wrong !== undefined) {
        const minimal = report.failureCount < 5 ? minimised(text, wrong, isConfig ? judgeConfig : (t) => judgeMap(source.name, t)) : text;
        fail(report, `seed ${budget.seed} input ${i} (${source.name}): ${wrong}\n--- minimised input ---\n${minimal.length > 3000 ? `${minimal.slice(0, 3000)}...` : minimal}\n---`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  report.seconds = round((Date.now() - started) / 1000);
  Object.assign(report.figures, { configs, configsRefused: refused, configsBuilt: built, checkRuns: checked, maps, inputsPerSecond: Math.round(report.inputs / Math.max(report.seconds, 0.001)) });
  return report;
}
