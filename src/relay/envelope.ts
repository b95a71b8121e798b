// The envelope as the relay carries it from the MTA's transaction to the onion's: paths as sent
// (without angle brackets) and the ESMTP parameters the relay understands and passes on. Pure data:
// the inbound side parses these from MAIL/RCPT lines, the upstream side formats them for a server
// according to what that server offered.
export type { SmtpReply } from '../tor/smtp-reply.ts';

export type BodyType = '7BIT' | '8BITMIME';
export type DsnNotify = 'NEVER' | 'SUCCESS' | 'FAILURE' | 'DELAY';

export interface MailParams {
  /** SIZE= (RFC 1870): the client's estimate in octets. */
  readonly size?: number;
  /** BODY= (RFC 6152). */
  readonly body?: BodyType;
  /** SMTPUTF8 (RFC 6531): the envelope or the header needs UTF-8 support. */
  readonly smtputf8?: true;
  /** RET= (RFC 3461). */
  readonly ret?: 'FULL' | 'HDRS';
  /** ENVID= (RFC 3461), as sent (xtext, not decoded). */
  readonly envid?: string;
}

export interface RcptParams {
  /** NOTIFY= (RFC 3461). */
  readonly notify?: readonly DsnNotify[];
  /** ORCPT= (RFC 3461), as sent: `rfc822;<xtext>` or `utf-8;<utf-8-addr-xtext>`. */
  readonly orcpt?: string;
}

export interface MailCommand {
  /** `` for the null reverse path. */
  readonly reversePath: string;
  readonly params: MailParams;
}

export interface RcptCommand {
  readonly forwardPath: string;
  readonly params: RcptParams;
}
