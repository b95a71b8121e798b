import type { CommandDoc } from '../command-doc.ts';
import { CONFIG_OPTION } from './common.ts';

export const checkDoc = {
  name: 'check',
  summary: 'validate the configuration and maps, printing every problem with file and line',
  operands: '[CONFIG_DIR]',
  options: {
    config: CONFIG_OPTION,
    offline: { type: 'boolean', help: 'do not look up the SRV records of statically mapped domains' },
    postfix: { type: 'boolean', help: "also read Postfix's settings (postconf; -c CONFIG_DIR when the operand is given) and warn where header mode would misroute or leak" },
  },
  description: [
    'Validates the configuration and the static maps (yours and the bundled OnionMX map) and prints every problem as file:line: key: reason. Unless --offline, also looks up the SRV record of each statically mapped domain and warns where it names another onion than the map.',
    'It names the DNS servers SRV lookups use, with whether their AD bit is trusted, and warns when dns.dnssec: required can never be met (no server on loopback or marked trust_ad).',
    'With --postfix it warns about always_bcc/*_bcc_maps and content_filter (FILTER reroutes every recipient of a message and replaces content_filter), milter_default_action = accept, and missing milter_header_checks or smtp_header_checks.',
  ],
  exit: [
    [0, 'no errors (warnings are printed)'],
    [78, 'errors, including a domain pinned to two different onions (which would defer its mail)'],
  ],
} as const satisfies CommandDoc;
