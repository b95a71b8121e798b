// The relay's own replies to the MTA, in one place (codes per RFC 5321 §4.2-4.3, RFC 2033, RFC 3463).
import type { SmtpReply } from '../envelope.ts';
import type { DataProblem } from './data-scanner.ts';
import type { RelayListenerKind } from './delivery.ts';
import { ownReply } from './reply.ts';

export const answers = {
  greeting: (name: string, kind: RelayListenerKind): SmtpReply => ({ code: 220, lines: [`${name} ${kind === 'lmtp' ? 'LMTP' : 'ESMTP'} onionmx-milter relay`] }),
  /** EHLO/LHLO: what the relay takes from the MTA; never STARTTLS or CHUNKING (the link is local). */
  extended: (name: string, maxMessageSize: number): SmtpReply => ({
    code: 250,
    lines: [name, 'PIPELINING', 'ENHANCEDSTATUSCODES', '8BITMIME', 'SMTPUTF8', 'DSN', `SIZE ${maxMessageSize}`, 'XFORWARD NAME ADDR PROTO HELO IDENT'],
  }),
  helo: (name: string): SmtpReply => ({ code: 250, lines: [name] }),
  wrongHello: (kind: RelayListenerKind): SmtpReply => ownReply(500, '5.5.1', kind === 'lmtp' ? 'This is an LMTP server: use LHLO' : 'This is an SMTP server: use EHLO or HELO'),
  ok: ownReply(250, '2.0.0', 'Ok'),
  senderOk: ownReply(250, '2.1.0', 'Ok'),
  startData: { code: 354, lines: ['End data with <CR><LF>.<CR><LF>'] } satisfies SmtpReply,
  bye: ownReply(221, '2.0.0', 'Bye'),
  vrfy: ownReply(252, '2.0.0', "Cannot VRFY here; send the message and the onion's server answers for the recipient"),
  help: ownReply(214, '2.0.0', 'Commands: LHLO EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP XFORWARD'),
  helloFirst: (kind: RelayListenerKind): SmtpReply => ownReply(503, '5.5.1', kind === 'lmtp' ? 'Send LHLO first' : 'Send EHLO or HELO first'),
  nestedMail: ownReply(503, '5.5.1', 'Nested MAIL command'),
  needMail: ownReply(503, '5.5.1', 'Need MAIL command'),
  xforwardInTransaction: ownReply(503, '5.5.1', 'XFORWARD is not allowed in a mail transaction'),
  /** RFC 2033 §4.2 (LMTP: 503); RFC 5321 §3.3 (SMTP: 554). */
  noValidRecipients: (kind: RelayListenerKind): SmtpReply => (kind === 'lmtp' ? ownReply(503, '5.5.1', 'No valid recipients') : ownReply(554, '5.5.1', 'No valid recipients')),
  tooManyRecipients: ownReply(452, '4.5.3', 'Too many recipients'),
  oneDestination: ownReply(452, '4.5.3', 'One onion destination per SMTP transaction: send this recipient in another transaction'),
  lineTooLong: ownReply(500, '5.5.2', 'Line too long'),
  bareLf: ownReply(500, '5.5.2', 'Bare LF in a command line: lines end with CRLF'),
  bareCr: ownReply(500, '5.5.2', 'Bare CR in a command line: lines end with CRLF'),
  tooManyErrors: ownReply(421, '4.7.0', 'Too many errors: closing the connection'),
  timeout: (name: string): SmtpReply => ownReply(421, '4.4.2', `${name} Error: timeout exceeded`),
  shuttingDown: (name: string): SmtpReply => ownReply(421, '4.3.2', `${name} Service shutting down, try again later`),
  tooManyConnections: (name: string): SmtpReply => ownReply(421, '4.3.2', `${name} Too many connections, try again later`),
  /** A reply still owed when the shutdown grace ran out: the onion may yet have delivered, so the MTA retries. */
  abandoned: ownReply(451, '4.3.2', "Relay shutting down before the onion's server answered; try again later"),
  /** For the log when the MTA went away: it never saw a reply and will retry. */
  lost: ownReply(451, '4.4.2', 'The MTA closed the connection before the transaction ended'),
  internal: (what: string): SmtpReply => ownReply(451, '4.3.0', `Relay internal error (${what}); try again later`),
  refusedData: (problem: DataProblem, limit: number): SmtpReply => {
    switch (problem.kind) {
      case 'too-big':
        return ownReply(552, '5.3.4', `Message size exceeds fixed maximum message size (${limit} octets); nothing was delivered`);
      case 'bare-lf':
        return ownReply(554, '5.6.0', `Message refused: bare LF at octet ${problem.offset} of the data (lines end with CRLF); nothing was delivered`);
      case 'bare-cr':
        return ownReply(554, '5.6.0', `Message refused: bare CR at octet ${problem.offset} of the data (lines end with CRLF); nothing was delivered`);
    }
  },
} as const;
