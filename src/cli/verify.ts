// `onionmx-milter verify <domain> [--onion X | --hs-dir DIR] [--config FILE] [--json]
// [--allow-unsigned] [--no-probe]`: checks a published _onion-mx._tcp record. See src/join/verify.ts.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EX_CONFIG, EX_DATAERR, EX_OK, EX_TEMPFAIL, UsageError } from './exit.ts';
import { parseCommand } from './args.ts';
import { VERIFY_PROBE_TIMEOUT_MS, verifyDoc } from './docs/verify.ts';
import { loadConfigArg } from './config-arg.ts';
import { errorMessage } from '../errors.ts';
import { silentLogger } from '../log.ts';
import { parseDuration } from '../config/duration.ts';
import { normaliseDomain } from '../resolve/address.ts';
import { isOnionName, validateOnion } from '../resolve/onion.ts';
import { buildResolver } from '../resolve/from-config.ts';
import { probeOnion } from '../tor/probe.ts';
import { parseSocksEndpoint, formatSocksEndpoint } from '../tor/socks-endpoint.ts';
import { srvLookupFromConfig } from '../join/config-dns.ts';
import { verifyDomain, type VerifyReport } from '../join/verify.ts';

/** sysexits EX_NOINPUT: the onion service's hostname file cannot be read. */
export const EX_NOINPUT = 66;
export const VERIFY_MISMATCH = 1;

export async function runVerify(args: readonly string[]): Promise<number> {
  const parsed = parseCommand(args, verifyDoc);
  if (parsed.help) return EX_OK;
  const v = parsed.values;
  const [domainArg, ...extra] = parsed.positionals;
  if (domainArg === undefined || extra.length > 0) throw new UsageError('expected exactly one <domain>; see --help');
  if (v.onion !== undefined && v['hs-dir'] !== undefined) throw new UsageError('give --onion or --hs-dir, not both');
  const probeTimeoutMs = v['probe-timeout'] === undefined ? VERIFY_PROBE_TIMEOUT_MS : parseDuration(v['probe-timeout']);
  if (probeTimeoutMs === undefined || probeTimeoutMs <= 0) throw new UsageError(`--probe-timeout: bad duration "${v['probe-timeout'] ?? ''}"`);
  const fail = (code: number, message: string): number => {
    process.stderr.write(`onionmx-milter verify: ${message}\n`);
    return code;
  };

  if (isOnionName(domainArg)) return fail(EX_DATAERR, `'${domainArg}' is an .onion name; give the mail domain that publishes the SRV record`);
  const domain = normaliseDomain(domainArg);
  if (!domain.ok) return fail(EX_DATAERR, `invalid domain '${domainArg}': ${domain.reason}`);

  let expectedText = v.onion;
  let expectedFrom = '--onion';
  if (v['hs-dir'] !== undefined) {
    const file = join(v['hs-dir'], 'hostname');
    try {
      expectedText = (await readFile(file, 'utf8')).trim();
    } catch (err) {
      return fail(EX_NOINPUT, `cannot read the onion service's hostname file ${file}: ${errorMessage(err)}`);
    }
    expectedFrom = file;
  }
  let expectedOnion: string | undefined;
  if (expectedText !== undefined) {
    const check = validateOnion(expectedText);
    if (!check.ok) return fail(EX_DATAERR, `invalid onion '${expectedText}' (${expectedFrom}): ${check.reason}`);
    expectedOnion = check.onion;
  }

  const loaded = await loadConfigArg(v.config);
  if (!loaded.ok) return fail(EX_CONFIG, loaded.messages.join('\n'));
  const config = loaded.config;
  const built = await buildResolver(config, silentLogger());
  if (!built.ok) return fail(EX_CONFIG, built.errors.join('\n'));
  const dns = srvLookupFromConfig(config);
  if (!dns.ok) return fail(EX_CONFIG, dns.error);

  const socks = parseSocksEndpoint(config.tor.socks);
  let noProbeReason: string | undefined;
  if (v['no-probe'] === true) noProbeReason = '--no-probe';
  else if (!socks.ok) noProbeReason = socks.reason;
  const socksLabel = socks.ok ? formatSocksEndpoint(socks.endpoint) : config.tor.socks;
  const probe =
    noProbeReason !== undefined || !socks.ok
      ? undefined
      : (onion: string, port: number) =>
          probeOnion({ proxy: socks.endpoint, onion, port, connectTimeoutMs: Math.min(config.tor.connectTimeoutMs, probeTimeoutMs), greetingTimeoutMs: probeTimeoutMs, commandTimeoutMs: probeTimeoutMs });

  const report = await verifyDomain({
    domain: domain.domain,
    ...(expectedOnion === undefined ? {} : { expectedOnion }),
    allowUnsigned: v['allow-unsigned'] === true,
    lookup: dns.lookup,
    operatorMaps: built.operatorMaps,
    ...(built.bundledMap === undefined ? {} : { bundledMap: built.bundledMap }),
    ...(probe === undefined ? {} : { probe }),
    ...(noProbeReason === undefined ? {} : { noProbeReason }),
    socksLabel,
  });
  await built.close();
  process.stdout.write(v.json === true ? JSON.stringify(report, null, 2) + '\n' : formatReport(report));
  if (report.ok) return EX_OK;
  return report.temporary ? EX_TEMPFAIL : VERIFY_MISMATCH;
}

function formatReport(report: VerifyReport): string {
  const out = [`verify: ${report.domain}${report.expectedOnion === undefined ? '' : ` (expected onion ${report.expectedOnion})`}`];
  for (const r of report.records) out.push(`  record: ${r.priority} ${r.weight} ${r.port} ${r.target}${r.problem === undefined ? '' : `  <- ${r.problem}`}`);
  for (const c of report.checks) out.push(`  ${c.status.toUpperCase().padEnd(7)} ${c.name.padEnd(14)} ${c.detail}`);
  out.push(report.ok ? 'verify: OK' : report.temporary ? 'verify: could not check (temporary DNS failure)' : 'verify: FAILED');
  return out.join('\n') + '\n';
}
