// `onionmx-milter map check <file>... [--verify-srv] [--config FILE] [--json]`: reviews OnionMX
// map.yml files like a maintainer reviewing a pull request. See src/join/map-review.ts.
import { readFile } from 'node:fs/promises';
import { EX_CONFIG, EX_OK, EX_TEMPFAIL, UsageError } from './exit.ts';
import { parseCommand } from './args.ts';
import { mapCheckDoc } from './docs/map-check.ts';
import { renderHelp } from './command-doc.ts';
import { loadConfigArg } from './config-arg.ts';
import { errorMessage } from '../errors.ts';
import { formatReviewProblem, reviewMaps, type MapSource, type ReviewProblem } from '../join/map-review.ts';
import { checkEntriesAgainstSrv, type SrvCheck } from '../join/map-srv.ts';
import { srvLookupFromConfig } from '../join/config-dns.ts';

export const MAP_CHECK_PROBLEMS = 1;

export async function runMap(args: readonly string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'check') return runMapCheck(rest);
  if (sub === '--help' || sub === '-h' || sub === undefined) {
    process.stdout.write(renderHelp(mapCheckDoc) + '\n');
    return sub === undefined ? 64 : EX_OK;
  }
  throw new UsageError(`unknown map subcommand '${sub}'; expected: map check <file>...`);
}

async function runMapCheck(args: readonly string[]): Promise<number> {
  const parsed = parseCommand(args, mapCheckDoc);
  if (parsed.help) return EX_OK;
  const v = parsed.values;
  if (parsed.positionals.length === 0) throw new UsageError('expected at least one map file; see --help');
  const sources: MapSource[] = [];
  const unreadable: ReviewProblem[] = [];
  for (const file of parsed.positionals) {
    try {
      const bytes = await readFile(file);
      sources.push({ file, text: new TextDecoder('utf-8', { fatal: true }).decode(bytes) });
    } catch (err) {
      unreadable.push({ file, line: 1, code: 'yaml-syntax', reason: `cannot read the file: ${err instanceof TypeError ? 'not valid UTF-8' : errorMessage(err)}` });
    }
  }
  const review = reviewMaps(sources);
  const problems = [...unreadable, ...review.problems];
  let srv: SrvCheck[] = [];
  if (v['verify-srv'] === true) {
    const loaded = await loadConfigArg(v.config);
    if (!loaded.ok) {
      for (const m of loaded.messages) process.stderr.write(`error: ${m}\n`);
      return EX_CONFIG;
    }
    const dns = srvLookupFromConfig(loaded.config);
    if (!dns.ok) {
      process.stderr.write(`error: ${dns.error}\n`);
      return EX_CONFIG;
    }
    srv = await checkEntriesAgainstSrv(review.entries, dns.lookup);
  }
  const srvProblems = srv.filter((s) => s.code !== 'srv-match');
  if (v.json === true) {
    process.stdout.write(JSON.stringify({ problems, srv: srv.map((s) => ({ file: s.entry.file, line: s.entry.line, onion: s.entry.onion, domain: s.entry.domain, code: s.code, reason: s.reason })) }, null, 2) + '\n');
  } else {
    for (const p of problems) process.stdout.write(formatReviewProblem(p) + '\n');
    for (const s of srvProblems) process.stdout.write(`${s.entry.file}:${s.entry.line}: ${s.reason}\n`);
    const checked = v['verify-srv'] === true ? `, ${srv.length - srvProblems.length} of ${srv.length} entries match their SRV record` : '';
    process.stdout.write(`map check: ${sources.length} file(s), ${problems.length + srvProblems.length} problem(s)${checked}\n`);
  }
  if (problems.length > 0 || srvProblems.some((s) => s.code !== 'srv-lookup-failed')) return MAP_CHECK_PROBLEMS;
  return srvProblems.length > 0 ? EX_TEMPFAIL : EX_OK;
}
