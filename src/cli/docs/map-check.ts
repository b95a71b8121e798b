import type { CommandDoc } from '../command-doc.ts';
import { CONFIG_OPTION, JSON_OPTION } from './common.ts';

export const mapCheckDoc = {
  name: 'map check',
  summary: 'review OnionMX map.yml files (schema, v3 onions, duplicates, order, SRV)',
  operands: '<file>...',
  options: {
    'verify-srv': { type: 'boolean', help: "also look up each domain's _onion-mx._tcp record (with the DNS servers of the configuration) and report entries whose onion the record does not name" },
    config: CONFIG_OPTION,
    json: JSON_OPTION,
  },
  description: [
    "Reviews OnionMX map.yml files the way a maintainer reviewing a pull request would: well-formed YAML holding one mapping; keys are v3 onion addresses (full checksum and key validation, canonical spelling); values are non-empty, sorted lists of valid domains; no domain or onion listed twice (across all files given); onion keys in alphabetical order when the file's header asks for it. Every problem is printed as file:line: reason.",
  ],
  exit: [
    [0, 'no problem'],
    [1, 'problems found'],
    [75, 'only SRV lookups failed (try again)'],
    [78, 'bad configuration'],
  ],
} as const satisfies CommandDoc;
