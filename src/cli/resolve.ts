// `onionmx-milter resolve [--config FILE] [--json] <domain|address>...`
// Exit 0 when every input was decided, 75 when any lookup failed temporarily, 64 on usage errors,
// 78 when the configuration or maps are broken.
import { EX_CONFIG, EX_OK, EX_TEMPFAIL, UsageError } from './exit.ts';
import { parseCommand } from './args.ts';
import { resolveDoc } from './docs/resolve.ts';
import { loadConfigArg } from './config-arg.ts';
import { buildResolver } from '../resolve/from-config.ts';
import { describeDecision } from '../resolve/describe.ts';
import { silentLogger, createLogger } from '../log.ts';

export async function runResolve(args: readonly string[]): Promise<number> {
  const parsed = parseCommand(args, resolveDoc);
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
