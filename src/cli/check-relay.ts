// `onionmx-milter check-relay --smtp <host:port> [--from A] [--to A] [--helo NAME] [--local A]`:
// the open-relay audit of the SMTP listener an onion service forwards to. See src/join/relay-audit.ts.
import { EX_OK, EX_UNAVAILABLE, UsageError } from './exit.ts';
import { parseCommand } from './args.ts';
import { CHECK_RELAY_DEFAULTS, checkRelayDoc } from './docs/check-relay.ts';
import { parseDuration } from '../config/duration.ts';
import { auditRelay, type RelayAuditReport } from '../join/relay-audit.ts';
import { parseAuditAddress, parseSmtpEndpoint } from '../join/audit-args.ts';

export const CHECK_RELAY_EXIT = { pass: EX_OK, fail: 1, inconclusive: 2, error: EX_UNAVAILABLE } as const;

export async function runCheckRelay(args: readonly string[]): Promise<number> {
  const parsed = parseCommand(args, checkRelayDoc);
  if (parsed.help) return EX_OK;
  const v = parsed.values;
  if (v.smtp === undefined) throw new UsageError('--smtp <host:port> is required; see --help');
  const endpoint = parseSmtpEndpoint(v.smtp);
  if (!endpoint.ok) throw new UsageError(`--smtp: ${endpoint.reason}`);
  const from = usable('--from', v.from ?? CHECK_RELAY_DEFAULTS.from);
  const to = usable('--to', v.to ?? CHECK_RELAY_DEFAULTS.to);
  const local = v.local === undefined ? undefined : usable('--local', v.local);
  if (local !== undefined && local.domain === to.domain) throw new UsageError(`--to must be an external address, but its domain is the one of --local (${local.domain})`);
  const helo = v.helo ?? CHECK_RELAY_DEFAULTS.helo;
  if (!/^[\x21-\x7e]{1,255}$/.test(helo)) throw new UsageError('--helo must be one printable word');
  const timeoutMs = v.timeout === undefined ? CHECK_RELAY_DEFAULTS.timeoutMs : parseDuration(v.timeout);
  if (timeoutMs === undefined || timeoutMs <= 0) throw new UsageError(`--timeout: bad duration "${v.timeout ?? ''}"`);

  const report = await auditRelay({
    host: endpoint.host,
    port: endpoint.port,
    from: from.address,
    to: to.address,
    helo,
    ...(local === undefined ? {} : { local: local.address }),
    timeoutMs,
  });
  process.stdout.write(v.json === true ? JSON.stringify(report, null, 2) + '\n' : formatReport(`${endpoint.host}:${endpoint.port}`, report, v.verbose === true));
  switch (report.verdict) {
    case 'PASS':
      return CHECK_RELAY_EXIT.pass;
    case 'FAIL':
      return CHECK_RELAY_EXIT.fail;
    case 'INCONCLUSIVE':
      return CHECK_RELAY_EXIT.inconclusive;
    case 'ERROR':
      return CHECK_RELAY_EXIT.error;
  }
}

function usable(option: string, value: string): { address: string; domain: string } {
  const r = parseAuditAddress(value);
  if (!r.ok) throw new UsageError(`${option}: ${r.reason}`);
  return r;
}

function formatReport(target: string, report: RelayAuditReport, verbose: boolean): string {
  const out: string[] = [`check-relay: ${target}`];
  if (report.greeting !== undefined) out.push(`greeting: ${report.greeting}`);
  if (report.extensions.length > 0) out.push(`extensions: ${report.extensions.join(' ')}`);
  if (report.localDomain !== undefined) out.push(`local domain for the tricks: ${report.localDomain.domain} (from ${report.localDomain.from === 'local' ? '--local' : 'the greeting'})`);
  for (const a of report.attempts) {
    const envelope = a.rcptTo === '' ? '' : ` MAIL <${a.mailFrom}> RCPT <${a.rcptTo}>`;
    out.push(`  ${a.outcome.padEnd(9)} ${a.name.padEnd(19)}${envelope}: ${a.reply}`);
  }
  if (verbose) for (const t of report.transcript) out.push(`  ${t.direction}: ${t.text}`);
  out.push(`verdict: ${report.verdict}`);
  for (const r of report.reasons) out.push(`  - ${r}`);
  return out.join('\n') + '\n';
}
