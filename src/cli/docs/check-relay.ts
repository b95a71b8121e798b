import type { CommandDoc } from '../command-doc.ts';
import { JSON_OPTION } from './common.ts';

export const CHECK_RELAY_DEFAULTS = { from: 'onionmx-relay-audit@example.com', to: 'onionmx-relay-audit@example.net', helo: 'relay-audit.example.com', timeoutMs: 30_000 } as const;

export const checkRelayDoc = {
  name: 'check-relay',
  summary: 'audit the SMTP listener behind your onion service for open relay (never sends DATA)',
  options: {
    smtp: { type: 'string', arg: 'HOST:PORT', required: true, help: 'the listener to audit (the target of your HiddenServicePort)' },
    from: { type: 'string', arg: 'ADDR', help: `the external sender (default ${CHECK_RELAY_DEFAULTS.from})` },
    to: { type: 'string', arg: 'ADDR', help: `the external recipient it tries to relay to (default ${CHECK_RELAY_DEFAULTS.to})` },
    helo: { type: 'string', arg: 'NAME', help: `EHLO argument (default ${CHECK_RELAY_DEFAULTS.helo})` },
    local: { type: 'string', arg: 'ADDR', help: 'a local recipient the listener must accept; its domain is the local domain of the tricks' },
    timeout: { type: 'string', arg: 'DURATION', help: 'deadline for each reply (default 30s)' },
    json: JSON_OPTION,
    verbose: { type: 'boolean', short: 'v', help: 'print the whole SMTP conversation' },
  },
  description: [
    "Audits the SMTP listener your onion service forwards to (its torrc HiddenServicePort target) for open relay. Tor connects to it from 127.0.0.1, so an MTA that trusts loopback (Postfix's default mynetworks) relays for anyone on the Tor network. Run this from the machine Tor runs on, against that listener.",
    'It opens an unauthenticated session and tries to relay to --to: plainly from --from, with a forged local sender, and with the classic tricks user%external@local, @local:user@external, "user@external"@local and external!user@local. Every attempt is MAIL, RCPT, RSET; the session ends with QUIT. DATA is never sent, so no mail can leave. The local domain of the tricks is the domain of --local, or else the host name in the server\'s greeting. With --local, the local recipient must be accepted: a listener that refuses everything is reported as such, not as a pass.',
  ],
  exit: [
    [0, 'PASS: every relay attempt got a permanent refusal (5xx)'],
    [1, 'FAIL: a relay recipient was accepted, or the listener advertises XCLIENT or XFORWARD'],
    [2, 'INCONCLUSIVE: a temporary refusal (4xx: greylisting, defer_unauth_destination, soft_bounce), a broken session, a skipped trick, or a listener that refuses everything'],
    [69, 'ERROR: no SMTP session could be opened'],
  ],
} as const satisfies CommandDoc;
