// onionmx-milter(8), made from the commands' descriptions (src/cli/docs), the same ones --help
// renders and the commands parse. Pure.
import { HELP_OPTION_DOC, USAGE_EXIT, type Block, type CommandDoc, type OptionDoc } from '../cli/command-doc.ts';
import { DEFAULT_CONFIG_PATH } from '../config/schema.ts';
import { bold, italic, paragraph, roffText, tagged, title, finishPage } from './roff.ts';

/** What each exit status means across commands (sysexits.h names where it has them). */
export const EXIT_MEANINGS: Readonly<Record<number, string>> = {
  0: 'success',
  1: 'the check found problems (verify, check-relay, map check)',
  2: 'inconclusive (check-relay)',
  64: 'usage error (EX_USAGE)',
  65: 'invalid input data: a domain or onion (EX_DATAERR)',
  66: 'an input file cannot be read (EX_NOINPUT)',
  69: 'unavailable, and waiting will not help (EX_UNAVAILABLE)',
  70: 'internal error (EX_SOFTWARE)',
  71: 'an operating system call failed: switching users (EX_OSERR)',
  73: 'an output file cannot be created (EX_CANTCREAT)',
  75: 'temporary failure: try again (EX_TEMPFAIL)',
  78: 'configuration error (EX_CONFIG)',
};

function optionTag(name: string, o: OptionDoc): string {
  const long = `${bold(`--${name}`)}${o.type === 'string' ? ` ${italic(o.arg ?? 'VALUE')}` : ''}`;
  return o.short === undefined ? long : `${bold(`-${o.short}`)}, ${long}`;
}

function synopsis(doc: CommandDoc): string {
  const options = Object.entries(doc.options).map(([name, o]) => {
    const text = `${bold(`--${name}`)}${o.type === 'string' ? ` ${italic(o.arg ?? 'VALUE')}` : ''}`;
    return o.required === true ? text : `[${text}]`;
  });
  return [bold(`onionmx-milter ${doc.name}`), ...(doc.operands === undefined ? [] : [italic(doc.operands)]), ...options].join(' ');
}

function block(b: Block): string[] {
  if (typeof b === 'string') return paragraph(b);
  return ['.RS', ...b.list.flatMap(([term, text]) => tagged(bold(term), text)), '.RE'];
}

function commandSection(doc: CommandDoc): string[] {
  const out = [`.SS ${roffText(doc.name)}`, synopsis(doc), ...paragraph(doc.summary.replace(/^./, (c) => c.toUpperCase()) + '.')];
  out.push(...doc.description.flatMap(block));
  out.push('.PP', 'Options:', '.RS');
  for (const [name, o] of [...Object.entries(doc.options), ['help', HELP_OPTION_DOC] as const]) out.push(...tagged(optionTag(name, o), o.help));
  out.push('.RE', '.PP', 'Exit status:', '.RS');
  for (const [code, text] of [...doc.exit, USAGE_EXIT]) out.push(...tagged(bold(String(code)), text));
  out.push('.RE');
  return out;
}

export function commandPage(docs: readonly CommandDoc[], version: string, date: string): string {
  const out: string[] = [title('onionmx-milter', 8, date, `onionmx-milter ${version}`, "System Manager's Manual")];
  out.push('.SH NAME', 'onionmx\\-milter \\- route mail for OnionMX domains through Tor onion services');
  out.push('.SH SYNOPSIS');
  for (const doc of docs) out.push(synopsis(doc), '.br');
  out.push(`${bold('onionmx-milter')} [${bold('--help')} | ${bold('--version')}]`);
  out.push('.SH DESCRIPTION');
  out.push(
    ...paragraph(
      'onionmx-milter plugs into the MTA you already run and decides, for every envelope recipient, whether its mail goes through a Tor onion service: from your own maps, the bundled OnionMX map, DNSSEC-authenticated SRV records _onion-mx._tcp.<domain>, and .onion recipient domains (valid v3 onions only). As a milter (Postfix smtpd_milters, Sendmail INPUT_MAIL_FILTER) it adds a routing header at end of message, which the MTA turns into a route over a Tor-enabled transport; as a lookup server it answers Postfix socketmap and tcp_table, Sendmail socket maps and Exim ${readsocket}. A lookup failure defers the mail (4xx) instead of sending it over the clearnet.',
    ),
  );
  out.push(...paragraph('Each command below prints its own help with --help. Without --config, commands read ' + DEFAULT_CONFIG_PATH + ' when it exists and otherwise use built-in defaults; see onionmx-milter.yml(5) for every key.'));
  out.push('.SH COMMANDS');
  for (const doc of docs) out.push(...commandSection(doc));
  out.push('.SS "\\-\\-help, \\-\\-version"', ...paragraph('onionmx-milter --help lists the commands and exits 0 (without any argument it exits 64); --version prints the version and exits 0.'));
  out.push('.SH EXIT STATUS', ...paragraph('Every command answers 64 to a usage error. The statuses, by number:'));
  const codes = [...new Set([0, ...docs.flatMap((d) => d.exit.map(([code]) => code)), USAGE_EXIT[0]])].sort((a, b) => a - b);
  for (const code of codes) {
    const meaning = EXIT_MEANINGS[code];
    if (meaning === undefined) throw new Error(`exit status ${code} has no meaning in EXIT_MEANINGS`);
    out.push(...tagged(bold(String(code)), meaning));
  }
  out.push('.SH SIGNALS', '.TP', bold('SIGHUP'), roffText('serve re-reads the configuration and the maps (as its unprivileged user).'));
  out.push('.TP', bold('SIGTERM, SIGINT'), roffText('serve stops accepting, lets open MTA sessions finish for up to --grace seconds, then exits; a second signal exits at once.'));
  out.push('.SH FILES');
  out.push('.TP', roffText(DEFAULT_CONFIG_PATH), 'the configuration file');
  out.push('.TP', roffText('/var/spool/postfix/onionmx/'), roffText("the milter sockets (milter.sock, submission.sock) inside Postfix's chroot: directory onionmx:postfix mode 2750, sockets mode 0660 group postfix"));
  out.push('.SH SEE ALSO', `${bold('onionmx-milter.yml')}(5), ${bold('postconf')}(5), ${bold('master')}(5), ${bold('tor')}(1), ${bold('systemd.exec')}(5)`);
  return finishPage(out);
}
