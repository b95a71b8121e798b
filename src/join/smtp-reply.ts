// Small helpers over SMTP replies for the audit report. Parsing is src/tor/smtp-reply.ts.
import type { SmtpReply } from '../tor/smtp-reply.ts';

export type { SmtpReply } from '../tor/smtp-reply.ts';

/** `250 first line / second line`: a reply as one printable line for reports. */
export function formatReply(reply: SmtpReply): string {
  const text = `${reply.code} ${reply.lines.join(' / ')}`.trim();
  return Array.from(text, (c) => (c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f ? '?' : c)).join('');
}

export type ReplyClass = 'positive' | 'intermediate' | 'temporary' | 'permanent';

export function replyClass(code: number): ReplyClass {
  if (code < 300) return 'positive';
  if (code < 400) return 'intermediate';
  if (code < 500) return 'temporary';
  return 'permanent';
}

/** The EHLO keywords (first word of each line after the first), upper case. */
export function ehloKeywords(reply: SmtpReply): readonly string[] {
  return reply.lines.slice(1).map((l) => (l.trim().split(/\s+/)[0] ?? '').toUpperCase()).filter((k) => k !== '');
}
