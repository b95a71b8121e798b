// `onionmx-milter selftest [--config FILE] [--postfix] ...`: the checklist of src/selftest/, printed
// line by line as each check finishes. Exit 0 only when every needed check passed.
import { readFile } from 'node:fs/promises';
import { EX_OK, UsageError } from './exit.ts';
import { errorMessage } from '../errors.ts';
import { parseCommand } from './args.ts';
import { SELFTEST_DEFAULT_TIMEOUT_MS, selftestDoc } from './docs/selftest.ts';
import { parseDuration } from '../config/duration.ts';
import { validateOnion } from '../resolve/onion.ts';
import { parseAuditAddress, parseSmtpEndpoint } from '../join/audit-args.ts';
import { checklistPassed, formatResult, formatSummary } from '../selftest/checklist.ts';
import { runSelftest } from '../selftest/run.ts';

export const SELFTEST_FAILED = 1;

export async function runSelftestCommand(args: readonly string[]): Promise<number> {
  const parsed = parseCommand(args, selftestDoc);
  if (parsed.help) return EX_OK;
  const v = parsed.values;
  const timeoutMs = v.timeout === undefined ? SELFTEST_DEFAULT_TIMEOUT_MS : parseDuration(v.timeout);
  if (timeoutMs === undefined || timeoutMs <= 0) throw new UsageError(`--timeout: bad duration "${v.timeout ?? ''}" (e.g. 30s, 2m)`);
  if (v.rcpt !== undefined && !parseAuditAddress(v.rcpt).ok) throw new UsageError(`--rcpt: "${v.rcpt}" is not an address of the form user@domain`);
  const results = await runSelftest(
    {
      config: v.config,
      rcpt: v.rcpt,
      postfix: v.postfix === true || v['postconf-dir'] !== undefined,
      postconfDir: v['postconf-dir'],
      onion: v.onion === undefined ? undefined : onionTarget(v.onion),
      onionSmtpd: v['onion-smtpd'] === undefined ? undefined : smtpdTarget(v['onion-smtpd']),
      torrc: v.torrc === undefined ? undefined : { path: v.torrc, text: await readTorrc(v.torrc) },
      timeoutMs,
    },
    (r) => process.stdout.write(formatResult(r) + '\n'),
  );
  process.stdout.write(formatSummary(results) + '\n');
  return checklistPassed(results) ? EX_OK : SELFTEST_FAILED;
}

function onionTarget(value: string): { onion: string; port: number } {
  const m = /^([^:]+)(?::([0-9]{1,5}))?$/.exec(value);
  const port = Number(m?.[2] ?? 25);
  const check = validateOnion(m?.[1] ?? '');
  if (!check.ok) throw new UsageError(`--onion: ${check.reason}`);
  if (!(port >= 1 && port <= 65535)) throw new UsageError(`--onion: bad port in "${value}"`);
  return { onion: check.onion, port };
}

async function readTorrc(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new UsageError(`--torrc: ${errorMessage(err)}`);
  }
}

function smtpdTarget(value: string): { host: string; port: number } {
  const r = parseSmtpEndpoint(value);
  if (!r.ok) throw new UsageError(`--onion-smtpd: ${r.reason}`);
  return { host: r.host, port: r.port };
}
