import type { CommandDoc } from '../command-doc.ts';
import { CONFIG_OPTION, JSON_OPTION } from './common.ts';

export const VERIFY_PROBE_TIMEOUT_MS = 60_000;

export const verifyDoc = {
  name: 'verify',
  summary: 'check a published _onion-mx._tcp record: DNSSEC, targets, expected onion, maps, SMTP greeting',
  operands: '<domain>',
  options: {
    onion: { type: 'string', arg: 'ONION', help: 'the onion the record must name' },
    'hs-dir': { type: 'string', arg: 'DIR', help: "an onion service directory (e.g. /var/lib/tor/onionmx) whose 'hostname' file names the onion the record must name" },
    config: CONFIG_OPTION,
    json: JSON_OPTION,
    'allow-unsigned': { type: 'boolean', help: 'accept an answer without DNSSEC authentication' },
    'no-probe': { type: 'boolean', help: 'do not connect to the published onions' },
    'probe-timeout': { type: 'string', arg: 'DURATION', help: `deadline for each greeting check (default ${VERIFY_PROBE_TIMEOUT_MS / 1000}s)` },
  },
  description: [
    'Looks up _onion-mx._tcp.<domain> through the configured resolver (dns.servers) and reports: the DNSSEC status of the answer, every target\'s validity (v3, full checks), whether the expected onion (--onion, or --hs-dir) is published, conflicts with your static maps and the bundled OnionMX map, and whether each published onion answers with an SMTP greeting through the Tor SOCKS port of the configuration (tor.socks; not checked when it does not answer, or with --no-probe).',
    'An answer without DNSSEC authentication fails unless --allow-unsigned. A bogus one (the resolver says, by an Extended DNS Error, that DNSSEC validation failed) always fails: it does not fix itself.',
  ],
  exit: [
    [0, 'everything matches'],
    [1, 'something does not (the reasons are printed; a bogus answer too)'],
    [65, 'invalid domain or onion'],
    [66, 'unreadable hostname file'],
    [75, 'the DNS lookup failed (try again)'],
    [78, 'bad configuration'],
  ],
} as const satisfies CommandDoc;
