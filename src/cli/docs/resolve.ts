import type { CommandDoc } from '../command-doc.ts';
import { CONFIG_OPTION, JSON_OPTION } from './common.ts';

export const resolveDoc = {
  name: 'resolve',
  summary: 'print the routing decision for domains or addresses',
  operands: '<domain|address>...',
  options: {
    config: CONFIG_OPTION,
    json: JSON_OPTION,
    verbose: { type: 'boolean', short: 'v', help: 'log map warnings and DNS details to standard error' },
  },
  description: [
    'Prints the routing decision for each domain or address, as the daemon would make it: route (onion host, port, source, DNSSEC), none (why not), tempfail (why; mail would be deferred) or reject (an invalid .onion recipient).',
  ],
  exit: [
    [0, 'all decided'],
    [75, 'a lookup failed temporarily'],
    [78, 'bad configuration'],
  ],
} as const satisfies CommandDoc;
