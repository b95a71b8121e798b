import type { CommandDoc } from '../command-doc.ts';
import { CONFIG_OPTION } from './common.ts';

export const exportDoc = {
  name: 'export',
  summary: 'write the static maps as a Postfix transport file, an Exim lookup file or a Sendmail mailertable',
  options: {
    format: { type: 'string', arg: 'postfix|exim|sendmail', required: true, help: 'the file format (see above)' },
    config: CONFIG_OPTION,
    output: { type: 'string', short: 'o', arg: 'FILE', help: 'write to FILE (replaced atomically) instead of standard output' },
  },
  description: [
    'Writes the static maps (yours, then the bundled OnionMX map unless bundled_map is false) as',
    {
      list: [
        ['postfix', 'a transport(5) file for postmap: example.org smtptor:[<onion>]:25'],
        ['exim', 'a partial-lsearch file for a manualroute router: example.org: <onion>::25'],
        ['sendmail', 'a mailertable for makemap: example.org smtptor:[<onion>]'],
      ],
    },
    'with only valid v3 routes, and a comment header naming the sources. The transport or mailer name is header.transport from the configuration. Conflicting pins, local and ignored domains are left out. Routes published only in DNS are not included: the lookup servers answer those.',
  ],
  exit: [
    [0, 'written'],
    [73, 'the output file cannot be written'],
    [78, 'configuration or map errors'],
  ],
} as const satisfies CommandDoc;
