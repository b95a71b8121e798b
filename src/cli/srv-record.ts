// `onionmx-milter srv-record <domain> <onion>... [--port 25] [--ttl 3600] [--priority 0] [--weight 5]`:
// prints the `_onion-mx._tcp` SRV line(s) to publish. Only zone lines go to stdout, so the output
// can be appended to a zone file; notes go to stderr.
import { EX_DATAERR, EX_OK, EX_USAGE, UsageError } from './exit.ts';
import { parseCommandArgs } from './args.ts';
import { buildSrvRecord, parseDecimal, SRV_DEFAULTS } from '../join/srv-record.ts';

const HELP = `usage: onionmx-milter srv-record <domain> <onion>... [--port ${SRV_DEFAULTS.port}] [--ttl ${SRV_DEFAULTS.ttl}] [--priority ${SRV_DEFAULTS.priority}] [--weight ${SRV_DEFAULTS.weight}]

Validates the mail domain and the onion address (v3 only, with the full checksum and key checks)
and prints the zone-file line of the _onion-mx._tcp SRV record to publish, one per onion. Publish
it in a DNSSEC-signed zone: senders that require DNSSEC ignore unsigned records. Then run
\`onionmx-milter verify <domain> --onion <onion>\`.

Exit status: 0 printed, 64 usage (missing argument, bad number), 65 invalid domain or onion.`;

export function runSrvRecord(args: readonly string[]): Promise<number> {
  return Promise.resolve(srvRecord(args));
}

function srvRecord(args: readonly string[]): number {
  const parsed = parseCommandArgs(args, {
    usage: HELP,
    allowPositionals: true,
    options: {
      port: { type: 'string' },
      ttl: { type: 'string' },
      priority: { type: 'string' },
      weight: { type: 'string' },
    },
  });
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
