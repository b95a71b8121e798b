// `onionmx-milter check [--config FILE] [--offline]`: validates the config and every map, printing
// each problem with file, line and key; compares static entries with published SRV records.
// Exit 0: no errors (warnings allowed); 78: config or map errors, conflicting pins included.
import { EX_CONFIG, EX_OK, UsageError } from './exit.ts';
import { parseCommand } from './args.ts';
import { checkDoc } from './docs/check.ts';
import { loadConfigArg } from './config-arg.ts';
import { silentLogger } from '../log.ts';
import { errorMessage } from '../errors.ts';
import { buildResolver, type BuiltResolver } from '../resolve/from-config.ts';
import type { StaticMap } from '../resolve/maps/index.ts';
import { auditPostfix, readPostfixFacts } from './postfix-audit.ts';
import { dnsTrustReport } from '../resolve/dns-trust.ts';

export async function runCheck(args: readonly string[]): Promise<number> {
  const parsed = parseCommand(args, checkDoc);
  if (parsed.help) return EX_OK;
  if (parsed.positionals.length > (parsed.values.postfix === true ? 1 : 0)) throw new UsageError(`unexpected argument: ${parsed.positionals.join(' ')}`);
  const out = (line: string): void => {
    process.stdout.write(line + '\n');
  };
  const loaded = await loadConfigArg(parsed.values.config);
  if (!loaded.ok) {
    for (const m of loaded.messages) out(`error: ${m}`);
    return EX_CONFIG;
  }
  const config = loaded.config;
  out(`config: ${config.source ?? 'built-in defaults'}`);
  const built = await buildResolver(config, silentLogger());
  if (!built.ok) {
    for (const e of built.errors) out(`error: ${e}`);
    return EX_CONFIG;
  }
  if (config.srv.enabled) {
    const dns = dnsTrustReport(config, built.dnsServers);
    out(`dns: ${dns.servers.join(', ')} from ${dns.from}; dnssec ${dns.dnssec}`);
    if (dns.warning !== undefined) out(`warning: ${dns.warning}`);
  }
  let errors = reportMap('maps', built.operatorMaps, out, true);
  if (built.bundledMap !== undefined) errors += reportMap('bundled map', built.bundledMap, out, false);
  if (parsed.values.offline !== true && built.srv !== undefined) await compareWithSrv(built, out);
  if (parsed.values.postfix === true) {
    try {
      const facts = await readPostfixFacts(parsed.positionals[0]);
      for (const w of auditPostfix(facts, config.header.name)) out(`warning: ${w}`);
    } catch (err) {
      out(`error: ${errorMessage(err)}`);
      errors++;
    }
  }
  out(errors === 0 ? 'check: OK' : `check: ${errors} error(s)`);
  return errors === 0 ? EX_OK : EX_CONFIG;
}

function reportMap(label: string, map: StaticMap, out: (line: string) => void, operator: boolean): number {
  const s = map.stats;
  out(`${label}: ${s.files} file(s), ${s.domains} domain(s) on ${s.onions} onion(s), ${s.skipped} skipped, ${s.conflicts} conflict(s)`);
  let errors = 0;
  for (const p of map.problems) {
    // Conflicting pins defer mail for that domain: an error for the operator's maps.
    const isError = p.severity === 'error' || (operator && p.code === 'conflict');
    if (isError) errors++;
    out(`${isError ? 'error' : 'warning'}: ${p.message}`);
  }
  return errors;
}

async function compareWithSrv(built: BuiltResolver, out: (line: string) => void): Promise<void> {
  const srv = built.srv;
  if (srv === undefined) return;
  const sources: [string, StaticMap | undefined][] = [
    ['maps', built.operatorMaps],
    ['bundled map', built.bundledMap],
  ];
  for (const [label, map] of sources) {
    if (map === undefined) continue;
    const entries = map.entries().filter((e) => e.kind === 'route' && !e.domain.startsWith('.'));
    await Promise.all(
      entries.map(async (e) => {
        if (e.kind !== 'route') return;
        const answer = await srv.lookup(e.domain);
        if (answer.kind === 'targets' && !answer.targets.some((t) => t.onion === e.onion)) {
          const published = answer.targets.map((t) => `${t.onion}:${t.port}`).join(', ');
          const rank = answer.authenticated && label === 'bundled map' ? ' (the DNSSEC-authenticated SRV record wins over the bundled map)' : '';
          out(`warning: ${e.origin}: ${e.domain} is mapped to ${e.onion} in the ${label}, but its SRV record${answer.authenticated ? ' (DNSSEC)' : ''} names ${published}${rank}`);
        } else if (answer.kind === 'failure') {
          out(`warning: ${e.domain}: SRV lookup failed (${answer.reason}: ${answer.detail})`);
        }
      }),
    );
  }
}
