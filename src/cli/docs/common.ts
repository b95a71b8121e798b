// Options several commands share, described once.
import type { OptionDoc } from '../command-doc.ts';

export const CONFIG_OPTION = { type: 'string', arg: 'FILE', help: 'the configuration file (default: /etc/onionmx-milter/config.yml when it exists, else the built-in defaults)' } as const satisfies OptionDoc;
export const JSON_OPTION = { type: 'boolean', help: 'print one JSON object per line instead of text' } as const satisfies OptionDoc;
