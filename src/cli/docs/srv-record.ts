import type { CommandDoc } from '../command-doc.ts';
import { SRV_DEFAULTS } from '../../join/srv-record.ts';

export const srvRecordDoc = {
  name: 'srv-record',
  summary: 'print the _onion-mx._tcp SRV record to publish for a domain and its onion',
  operands: '<domain> <onion>...',
  options: {
    port: { type: 'string', arg: 'PORT', help: `the onion service's SMTP port (default ${SRV_DEFAULTS.port})` },
    ttl: { type: 'string', arg: 'SECONDS', help: `the record's TTL (default ${SRV_DEFAULTS.ttl})` },
    priority: { type: 'string', arg: 'N', help: `SRV priority (default ${SRV_DEFAULTS.priority})` },
    weight: { type: 'string', arg: 'N', help: `SRV weight (default ${SRV_DEFAULTS.weight})` },
  },
  description: [
    'Validates the mail domain and the onion address (v3 only, with the full checksum and key checks) and prints the zone-file line of the _onion-mx._tcp SRV record to publish, one per onion. Publish it in a DNSSEC-signed zone: senders that require DNSSEC ignore unsigned records. Then run onionmx-milter verify <domain> --onion <onion>.',
  ],
  exit: [
    [0, 'printed'],
    [65, 'invalid domain or onion'],
  ],
} as const satisfies CommandDoc;
