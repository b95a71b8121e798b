// SMFIR_REPLYCODE text: "ddd x.y.z text", multi-line with CRLF and '-' continuation, '%' doubled
// because Sendmail uses the text as a format string (libmilter smfi_setmlreply; Postfix
// milter8_valid_smtp_reply checks the same shape).
import { ErrorCode, ProtocolError } from '../../errors.ts';
import { MAX_REPLY_LINE_LENGTH, MAX_REPLY_LINES } from './constants.ts';

const ENHANCED = /^([245])\.(\d{1,3})\.(\d{1,3})$/;

/**
 * Formats a custom SMTP reply. `code` must be 4xx or 5xx; `enhanced` (default `4.0.0`/`5.0.0`, as
 * libmilter) must have the same class; `text` is one line, several lines (array) or a string with
 * line breaks. Throws ProtocolError(MilterBadReply) naming the problem.
 */
export function formatReplyCode(code: number, enhanced: string | undefined, text: string | readonly string[]): string {
  if (!Number.isInteger(code) || code < 400 || code > 599) {
    throw bad(`reply code ${code} is not 4xx or 5xx`);
  }
  const cls = Math.floor(code / 100);
  const status = enhanced ?? `${cls}.0.0`;
  const m = ENHANCED.exec(status);
  if (m === null) throw bad(`enhanced status "${status}" is not x.y.z`);
  if (m[1] !== String(cls)) throw bad(`enhanced status ${status} does not match the class of ${code}`);
  const lines = typeof text === 'string' ? text.split(/\r?\n/) : [...text];
  if (lines.length === 0) lines.push('');
  if (lines.length > MAX_REPLY_LINES) throw bad(`${lines.length} reply lines, at most ${MAX_REPLY_LINES}`);
  return lines
    .map((line, i) => {
      if (/[\r\n\0]/.test(line)) throw bad(`reply line ${i + 1} contains CR, LF or NUL`);
      if (line.length > MAX_REPLY_LINE_LENGTH) {
        throw bad(`reply line ${i + 1} has ${line.length} characters, at most ${MAX_REPLY_LINE_LENGTH}`);
      }
      const sep = i === lines.length - 1 ? ' ' : '-';
      return `${code}${sep}${status} ${line.replaceAll('%', '%%')}`;
    })
    .join('\r\n');
}

function bad(message: string): ProtocolError {
  return new ProtocolError(ErrorCode.MilterBadReply, message);
}
