// The replies the upstream half makes itself (nothing from the onion's server to pass on): every
// one with an enhanced status code (RFC 3463) and a text that names the onion and what failed.
// Temporary trouble is 451 (RFC 5321 §4.2.2: "local error in processing"), never 421, which
// would tell the MTA that the relay itself is closing its connection. Pure.
import type { OnionTarget } from '../../resolve/types.ts';
import type { SmtpReply } from '../envelope.ts';

export function reply(code: number, enhanced: string, text: string): SmtpReply {
  return { code, lines: [`${enhanced} ${text}`] };
}

export function targetLabel(target: OnionTarget): string {
  return `${target.onion}:${target.port}`;
}

/** What the session was waiting for, in the words of the replies. */
export type Awaited = 'greeting' | 'EHLO' | 'HELO' | 'STARTTLS' | 'TLS handshake' | 'MAIL' | 'RCPT' | 'DATA' | 'data' | 'end of data' | 'RSET' | 'QUIT';

/** RFC 3463 X.4.2 "bad connection": the stream ended under us. */
export function lostReply(target: OnionTarget, awaited: Awaited, detail?: string): SmtpReply {
  return reply(451, '4.4.2', `Connection to ${targetLabel(target)} lost while waiting for the reply to ${awaited}${detail === undefined ? '' : ` (${detail})`}; try again later`);
}

/** RFC 5321 §4.5.3.2's timeouts; X.4.2 as Postfix does for a conversation that timed out. */
export function timeoutReply(target: OnionTarget, awaited: Awaited, ms: number): SmtpReply {
  const what = awaited === 'data' ? 'while sending the message data (the server stopped reading)' : `waiting for the reply to ${awaited}`;
  return reply(451, '4.4.2', `Timeout after ${ms} ms ${what} from ${targetLabel(target)}; try again later`);
}

/** X.5.0 "other or undefined protocol status": the server's bytes are not SMTP replies. */
export function protocolReply(target: OnionTarget, awaited: Awaited, detail: string): SmtpReply {
  return reply(451, '4.5.0', `${targetLabel(target)} sent a malformed reply to ${awaited}: ${detail}`);
}

/** The session cannot take this command now (the contract's order was not kept, or it ended). */
export function sequenceReply(target: OnionTarget, command: string, state: string): SmtpReply {
  return reply(451, '4.3.0', `Upstream session to ${targetLabel(target)} cannot take ${command} now (${state})`);
}

/**
 * A server that answered 421 closes the session (RFC 5321 §3.8); its text is passed on, but as a
 * 451 so the MTA does not take it for the relay closing the MTA's own connection.
 */
export function closingReply(target: OnionTarget, server: SmtpReply): SmtpReply {
  const lines = server.lines.length === 0 ? [''] : server.lines;
  // RFC 2034 §3: one enhanced code on every line of a reply; the server's own when it gave one.
  const code = /^4\.\d{1,3}\.\d{1,3}(?=\s|$)/.exec(lines[0] ?? '')?.[0] ?? '4.4.2';
  const withCode = lines.map((l) => (/^\d\.\d{1,3}\.\d{1,3}(?=\s|$)/.test(l) ? l : `${code} ${l}`.trimEnd()));
  return { code: 451, lines: [...withCode, `${code} ${targetLabel(target)} answered 421 and closed the session`] };
}

/** RFC 3463 X.3.2 "system not accepting network messages": a greeting that is not 220. */
export function greetingRefusedReply(target: OnionTarget, server: SmtpReply): SmtpReply {
  return reply(451, '4.3.2', `${targetLabel(target)} refused the session: greeting ${server.code} ${server.lines.join(' / ')}`);
}

/** EHLO and HELO both refused: our helo name or our address is not welcome. */
export function heloRefusedReply(target: OnionTarget, command: 'EHLO' | 'HELO', server: SmtpReply): SmtpReply {
  return reply(451, '4.3.2', `${targetLabel(target)} refused ${command}: ${server.code} ${server.lines.join(' / ')}`);
}

/** RFC 3463 X.7.4 "security features not supported": tls.starttls is `required`. */
export function starttlsUnavailableReply(target: OnionTarget, server: SmtpReply | undefined): SmtpReply {
  const why = server === undefined ? 'does not offer STARTTLS' : `refused STARTTLS: ${server.code} ${server.lines.join(' / ')}`;
  return reply(451, '4.7.4', `${targetLabel(target)} ${why}, and STARTTLS is required for onion delivery (starttls: required)`);
}

/** RFC 3463 X.7.5 "cryptographic failure". */
export function tlsFailedReply(target: OnionTarget, detail: string): SmtpReply {
  return reply(451, '4.7.5', `TLS handshake with ${targetLabel(target)} failed: ${detail}`);
}

/** X.4.5 "mail system congestion": no session slot came free while the MTA waited. */
export function congestionReply(target: OnionTarget, ms: number, limit: string): SmtpReply {
  return reply(451, '4.4.5', `No upstream session to ${targetLabel(target)} came free within ${ms} ms (${limit}); try again later`);
}

export function shuttingDownReply(): SmtpReply {
  return reply(451, '4.3.2', 'The relay is shutting down; try again later');
}

export function abortedReply(target: OnionTarget, reason: string): SmtpReply {
  return reply(451, '4.3.0', `Delivery to ${targetLabel(target)} abandoned: ${reason}`);
}
