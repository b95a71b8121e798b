import type { CommandDoc } from '../command-doc.ts';
import { CONFIG_OPTION } from './common.ts';

export const SELFTEST_DEFAULT_TIMEOUT_MS = 60_000;

export const selftestDoc = {
  name: 'selftest',
  summary: 'check the whole setup end to end and print a PASS/FAIL/SKIP checklist with a fix for each failure',
  options: {
    config: CONFIG_OPTION,
    postfix: { type: 'boolean', help: "also check Postfix's settings (postconf, postmap) and audit the onion-facing smtpd for open relay" },
    'postconf-dir': { type: 'string', short: 'c', arg: 'DIR', help: "Postfix's configuration directory, as postconf -c takes it (default: Postfix's own); implies --postfix" },
    rcpt: { type: 'string', arg: 'ADDR', help: 'the test recipient (default: a made-up user on the first domain of maps, else of the bundled map)' },
    onion: { type: 'string', arg: 'ONION[:PORT]', help: "the onion to reach through Tor (default: the test recipient's route; port 25)" },
    'onion-smtpd': { type: 'string', arg: 'HOST:PORT', help: 'the listener your onion service forwards to (default: the HiddenServicePort 25 targets of --torrc, else a loopback smtpd without milters in master.cf)' },
    torrc: { type: 'string', arg: 'FILE', help: "Tor's configuration, e.g. /etc/tor/torrc: its HiddenServicePort 25 targets are audited for open relay" },
    timeout: { type: 'string', arg: 'DURATION', help: 'bound for each local step and each SMTP reply through Tor (default 60s; the Tor connect itself has tor.connect_timeout)' },
  },
  description: [
    'Answers "is my setup working?" in one run. It prints one line per check, `PASS|FAIL|SKIP  <check>  <detail>`, and after each FAIL a line `fix:` that says what to change. The checks, in order:',
    {
      list: [
        ['config loads', 'the configuration and every map load (as check does)'],
        ['milter adds routing header', 'a full milter transaction with the socket in milter.listen, as Postfix drives it: the test recipient gets the routing header for its route'],
        ['milter deletes forged header', 'a copy of the routing header sent by the client is deleted'],
        ['postfix smtpd_milters', 'with --postfix: our socket is in smtpd_milters (a chrooted smtpd names it relative to queue_directory)'],
        ['postfix milter_default_action', 'with --postfix: tempfail (or reject), so mail waits while the milter is down instead of leaving untagged'],
        ['postfix header check', 'with --postfix: milter_header_checks answers the header we write with FILTER to a transport master.cf defines (any transport: the one the header names)'],
        ['postfix strips outbound header', "with --postfix: that transport's smtp_header_checks (or lmtp_header_checks, its -o overrides first) answer IGNORE, or it delivers over LMTP into the built-in relay, which deletes the header"],
        ['onion smtpd not open relay', 'with --postfix, --onion-smtpd or --torrc: the check-relay audit of each listener Tor forwards to passes'],
        ['tor SocksPort', 'tor.socks answers a SOCKS5 greeting'],
        ['onion answers SMTP via Tor', 'the chosen onion greets with 220 and answers EHLO through Tor (as probe does)'],
      ],
    },
    'The Postfix checks and the relay audit are optional: without --postfix they are skipped and the selftest can still pass. Every other check is needed; a needed check that could not run (its input failed) counts as a failure. Nothing is delivered: the milter transaction ends at end of message without a real MTA behind it, the relay audit never sends DATA, and the onion probe ends after EHLO.',
  ],
  exit: [
    [0, 'every needed check passed (optional ones passed or were skipped)'],
    [1, 'a check failed, or a needed check could not run'],
  ],
} as const satisfies CommandDoc;
