// The relay's replies to the MTA: our own (always with an enhanced status code, RFC 2034, since we
// advertise ENHANCEDSTATUSCODES) and those relayed from an onion's server or the upstream half,
// and their wire form. Pure.
import type { SmtpReply } from '../envelope.ts';

/** One of our own replies: `ownReply(250, '2.1.0', 'Ok')`; several texts make a multi-line reply. */
export function ownReply(code: number, enhanced: string, ...texts: readonly string[]): SmtpReply {
  const lines = texts.length === 0 ? [''] : texts;
  return { code, lines: lines.map((t) => `${enhanced} ${t}`) };
}

const ENHANCED = /^([245])\.\d{1,3}\.\d{1,3}(?=\s|$)/;

/**
 * A reply from elsewhere, made fit to send: every line carries an enhanced status code of the
 * reply's class (`X.0.0` when the server gave none, RFC 3463 §3.1's "other undefined status";
 * a code of the wrong class is replaced), and a code outside 2xx-5xx becomes a 451 4.5.0 that
 * quotes it, because a relayed 1xx or 6xx would desynchronise the MTA's SMTP client.
 */
export function relayedReply(reply: SmtpReply): SmtpReply {
  if (!Number.isInteger(reply.code) || reply.code < 200 || reply.code > 599) {
    return ownReply(451, '4.5.0', `Unexpected reply code ${String(reply.code)} from the onion's server: ${reply.lines.join(' / ')}`);
  }
  const cls = String(Math.floor(reply.code / 100));
  const lines = reply.lines.length === 0 ? [''] : reply.lines;
  return {
    code: reply.code,
    lines: lines.map((line) => {
      const m = ENHANCED.exec(line);
      if (m === null) return line === '' ? `${cls}.0.0` : `${cls}.0.0 ${line}`;
      return m[1] === cls ? line : `${cls}${line.slice(1)}`;
    }),
  };
}

/** RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets with its code and CRLF. */
const MAX_TEXT = 506;

/** Wire form (`250-first\r\n250 last\r\n`): text limited to printable ASCII and the line length limit. */
export function encodeReply(reply: SmtpReply): string {
  const lines = reply.lines.length === 0 ? [''] : reply.lines;
  const last = lines.length - 1;
  let out = '';
  lines.forEach((line, i) => {
    out += `${reply.code}${i === last ? ' ' : '-'}${printable(line)}\r\n`;
  });
  return out;
}

function printable(text: string): string {
  const safe = text.replace(/[^\x20-\x7e]/g, '?');
  return safe.length > MAX_TEXT ? `${safe.slice(0, MAX_TEXT - 3)}...` : safe;
}

/** 2, 4 or 5: the class the MTA acts on (delivered, deferred, bounced). */
export function replyClass(reply: SmtpReply): 2 | 3 | 4 | 5 {
  const c = Math.floor(reply.code / 100);
  return c === 2 || c === 3 || c === 4 ? c : 5;
}

/** `250 2.0.0` (the code and the first line's enhanced code), for log lines. */
export function replyCodes(reply: SmtpReply): string {
  const m = ENHANCED.exec(reply.lines[0] ?? '');
  return m === null ? String(reply.code) : `${reply.code} ${m[0]}`;
}
