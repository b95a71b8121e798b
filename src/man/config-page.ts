// onionmx-milter.yml(5), made from examples/config.yml (see config-doc.ts for how it is read):
// every key with its default and what the example's comments say about it. Pure.
import { DEFAULT_CONFIG_PATH } from '../config/schema.ts';
import type { ConfigDoc, DocumentedKey } from './config-doc.ts';
import { bold, literal, paragraph, roffText, tagged, title, finishPage } from './roff.ts';

/** The default as the page states it. */
export function defaultOf(k: DocumentedKey): string {
  if (k.defaultText !== undefined) return k.defaultText;
  return k.commented ? 'none' : k.value;
}

function indented(label: string, lines: readonly string[]): string[] {
  return ['.RS', '.PP', label, '.nf', ...lines.map(roffText), '.fi', '.RE'];
}

function keyEntry(k: DocumentedKey): string[] {
  const out = tagged(`${bold(k.path)} (default: ${roffText(defaultOf(k))})`, k.doc);
  // The value the example writes, when it is not the default: the Debian layout's or an example.
  const shown = k.defaultText !== undefined || k.commented ? k.value : undefined;
  if (shown !== undefined && shown !== '') out.push(...indented(k.commented ? 'Example:' : 'In the example configuration:', [`${k.key}: ${shown}`]));
  if (k.examples.length > 0) out.push(...indented('Example:', [`${k.key}:`, ...k.examples.map((e) => `  - ${e}`)]));
  return out;
}

export function configPage(doc: ConfigDoc, version: string, date: string): string {
  const out: string[] = [title('onionmx-milter.yml', 5, date, `onionmx-milter ${version}`, 'File Formats Manual')];
  out.push('.SH NAME', 'onionmx\\-milter.yml \\- configuration file of onionmx\\-milter');
  out.push('.SH SYNOPSIS', roffText(DEFAULT_CONFIG_PATH));
  out.push('.SH DESCRIPTION', roffText(doc.description));
  out.push(
    ...paragraph(
      'The file is YAML. Keys are grouped in sections (milter, header, dns, ...); below, each key is named by its section and its own name, e.g. milter.listen is "listen:" under "milter:". Unknown keys are errors. Durations take a unit: 500ms, 2s, 5m, 1h, 1d (a bare number means seconds). Validate a file with "onionmx-milter check --config FILE"; the daemon reads it at start and again on SIGHUP, as its unprivileged user, so the file and the maps it names must be readable by that user. Changes to listeners, user, group and health need a restart.',
    ),
  );
  out.push(...paragraph('A shipped example with every key and the Debian layout is examples/config.yml in the package; this page is made from it.'));
  out.push('.SH KEYS');
  let section: string | undefined;
  for (const k of doc.keys) {
    if (k.section !== section) {
      section = k.section;
      out.push(`.SS ${section === '' ? 'Top level' : roffText(section)}`);
      const about = doc.sections.get(section);
      if (about !== undefined) out.push(...paragraph(about));
    }
    out.push(...keyEntry(k));
  }
  out.push('.SH FILES', '.TP', roffText(DEFAULT_CONFIG_PATH), 'the configuration file, read when no \\-\\-config is given');
  out.push('.SH EXAMPLES', ...paragraph('The smallest configuration for Postfix on Debian:'));
  out.push(
    ...literal([
      'user: onionmx',
      'milter:',
      '  listen: unix:/var/spool/postfix/onionmx/milter.sock',
      '  socket_group: postfix',
      'dns:',
      '  servers: ["127.0.0.1:53"]',
    ]),
  );
  out.push('.SH SEE ALSO', `${bold('onionmx-milter')}(8), ${bold('postconf')}(5)`);
  return finishPage(out);
}
