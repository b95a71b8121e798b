// `onionmx-milter resolve [--config FILE] [--json] <domain|address>...`
// Exit 0 when every input was decided, 75 when any lookup failed temporarily, 64 on usage errors,
// 78 when the configuration or maps are broken.
import { EX_CONFIG, EX_OK, EX_TEMPFAIL, UsageError } from './exit.ts';
import { parseCommandArgs } from './args.ts';
import { loadConfigArg } from './config-arg.ts';
import { buildResolver } from '../resolve/from-config.ts';
import { describeDecision } from '../resolve/describe.ts';
import { silentLogger, createLogger } from '../log.ts';

const HELP = `usage: onionmx-milter resolve [--config FILE] [--json] [--verbose] <domain|address>...

Prints the routing decision for each domain or address, as the daemon would make it:
route (onion host, port, source, DNSSEC), none (why not), tempfail (why; mail would be
deferred) or reject (an invalid .onion recipient).

  --config FILE   configuration file (default /etc/onionmx-milter/config.yml if it exists)
  --json          one JSON object per line
  --verbose       log map warnings and DNS details to stderr

Exit status: 0 all decided, 75 a lookup failed temporarily, 64 usage, 78 bad configuration.`;

export async function runResolve(args: readonly string[]): Promise<number> {
  const parsed = parseCommandArgs(args, {
    usage: HELP,
    allowPositionals: true,
    options: { config: { type: 'string' }, json: { type: 'boolean' }, verbose: { type: 'boolean', short: 'v' } },
  });
  if (parsed.help) return EX_OK;
  if (parsed.positionals.length === 0) throw new UsageError('give at least one domain or address (see --help)');
  const loaded = await loadConfigArg(parsed.values.config);
  if (!loaded.ok) {
    for (const m of loaded.messages) process.stderr.write(m + '\n');
    return EX_CONFIG;
  }
  const log = parsed.values.verbose === true ? createLogger({ level: 'debug', destination: process.stderr }) : silentLogger();
  const built = await buildResolver(loaded.config, log);
  if (!built.ok) {
    for (const m of built.errors) process.stderr.write(m + '\n');
    return EX_CONFIG;
  }
  let status = EX_OK;
  const decisions = await Promise.all(parsed.positionals.map((input) => built.resolver.resolve(input)));
  decisions.forEach((d, i) => {
    if (d.kind === 'tempfail') status = EX_TEMPFAIL;
    const input = parsed.positionals[i] ?? '';
    process.stdout.write((parsed.values.json === true ? JSON.stringify({ input, ...d }) : describeDecision(input, d)) + '\n');
  });
  await built.close();
  return status;
}
