// `onionmx-milter srv-record <domain> <onion>... [--port 25] [--ttl 3600] [--priority 0] [--weight 5]`:
// prints the `_onion-mx._tcp` SRV line(s) to publish. Only zone lines go to stdout, so the output
// can be appended to a zone file; notes go to stderr.
import { EX_DATAERR, EX_OK, EX_USAGE, UsageError } from './exit.ts';
import { parseCommand } from './args.ts';
import { srvRecordDoc } from './docs/srv-record.ts';
import { buildSrvRecord, parseDecimal, SRV_DEFAULTS } from '../join/srv-record.ts';

export function runSrvRecord(args: readonly string[]): Promise<number> {
  return Promise.resolve(srvRecord(args));
}

function srvRecord(args: readonly string[]): number {
  const parsed = parseCommand(args, srvRecordDoc);
  if (parsed.help) return EX_OK;
  const v = parsed.values;
  const [domain, ...onions] = parsed.positionals;
  if (domain === undefined || onions.length === 0) throw new UsageError('expected <domain> <onion>...; see --help');
  const number = (value: string | undefined, fallback: number): number => (value === undefined ? fallback : parseDecimal(value));
  const result = buildSrvRecord({
    domain,
    onions,
    port: number(v.port, SRV_DEFAULTS.port),
    ttl: number(v.ttl, SRV_DEFAULTS.ttl),
    priority: number(v.priority, SRV_DEFAULTS.priority),
    weight: number(v.weight, SRV_DEFAULTS.weight),
  });
  if (!result.ok) {
    process.stderr.write(`onionmx-milter srv-record: ${result.reason}\n`);
    return result.kind === 'usage' ? EX_USAGE : EX_DATAERR;
  }
  for (const line of result.lines) process.stdout.write(line.text + '\n');
  for (const note of result.notes) process.stderr.write(`note: ${note}\n`);
  return EX_OK;
}
