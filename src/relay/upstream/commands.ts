// MAIL and RCPT command lines for one server, from the envelope and what that server offered.
// An extension is only used when offered (RFC 5321 §4.1.1.11); a message that needs one the
// server lacks is refused here, before anything is sent, with the reply the RFCs name. Pure.
import type { MailCommand, RcptCommand, SmtpReply } from '../envelope.ts';
import type { OnionTarget } from '../../resolve/types.ts';
import type { UpstreamCapabilities } from './api.ts';
import { reply, targetLabel } from './replies.ts';

export type CommandLine = { readonly ok: true; readonly line: string } | { readonly ok: false; readonly reply: SmtpReply };

/** Paths may hold quoted spaces, never line breaks or NUL; parameter values are xtext (no space, no controls). */
function badPath(s: string): boolean {
  return /[\r\n]/.test(s) || s.includes('\u0000');
}

function badValue(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f) return true;
  }
  return false;
}

export function mailCommandLine(command: MailCommand, caps: UpstreamCapabilities, target: OnionTarget): CommandLine {
  const { params } = command;
  const where = targetLabel(target);
  // RFC 6531 §3.2: a message that needs SMTPUTF8 is not sent to a server without it.
  if (params.smtputf8 === true && !caps.smtpUtf8) {
    return refuse(553, '5.6.7', `${where} does not support SMTPUTF8 (RFC 6531) and this message needs it`);
  }
  // RFC 6152 §3: 8-bit content is not sent to a server without 8BITMIME; the relay does not downgrade.
  if (params.body === '8BITMIME' && !caps.eightBitMime) {
    return refuse(554, '5.6.3', `${where} does not support 8BITMIME (RFC 6152) and this message has 8-bit content; the relay does not convert`);
  }
  // RFC 1870 §6: a declared size above the server's fixed limit.
  if (params.size !== undefined && caps.size !== undefined && caps.size > 0 && params.size > caps.size) {
    return refuse(552, '5.3.4', `Message size ${params.size} exceeds the fixed limit of ${caps.size} octets of ${where}`);
  }
  if (badPath(command.reversePath)) return badSyntax('MAIL', 'reverse path');
  let line = `MAIL FROM:<${command.reversePath}>`;
  if (params.size !== undefined && caps.size !== undefined) line += ` SIZE=${params.size}`;
  if (params.body !== undefined && caps.eightBitMime) line += ` BODY=${params.body}`;
  if (params.smtputf8 === true) line += ' SMTPUTF8';
  if (caps.dsn) {
    if (params.ret !== undefined) line += ` RET=${params.ret}`;
    if (params.envid !== undefined) {
      if (badValue(params.envid)) return badSyntax('MAIL', 'ENVID');
      line += ` ENVID=${params.envid}`;
    }
  }
  return { ok: true, line };
}

export function rcptCommandLine(command: RcptCommand, caps: UpstreamCapabilities): CommandLine {
  const { params } = command;
  if (badPath(command.forwardPath)) return badSyntax('RCPT', 'forward path');
  let line = `RCPT TO:<${command.forwardPath}>`;
  // RFC 3461 §4.1 / §5.2.1: NOTIFY and ORCPT only to a server that offered DSN.
  if (caps.dsn) {
    if (params.notify !== undefined && params.notify.length > 0) line += ` NOTIFY=${params.notify.join(',')}`;
    if (params.orcpt !== undefined) {
      if (badValue(params.orcpt)) return badSyntax('RCPT', 'ORCPT');
      line += ` ORCPT=${params.orcpt}`;
    }
  }
  return { ok: true, line };
}

function refuse(code: number, enhanced: string, text: string): CommandLine {
  return { ok: false, reply: reply(code, enhanced, text) };
}

/** The inbound parser never lets these through; kept so that no value can split a command line. */
function badSyntax(command: string, what: string): CommandLine {
  return refuse(501, '5.5.4', `${command}: the ${what} holds characters that cannot be sent in a command line`);
}
