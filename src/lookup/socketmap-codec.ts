// The socketmap request and reply payloads (inside netstrings), shared by Postfix and Sendmail.
// Pure. Request: `<map name> SPACE <key>`. Reply: `<STATUS> SPACE <text>`.
//
// Always `OK SPACE value`: Sendmail splits the reply at the first space and fails on a bare `OK`.
// `NOTFOUND ` keeps its space too (Sendmail's own example is `8:NOTFOUND,`; both MTAs accept either).

import { decodeUtf8 } from './utf8.ts';

export type SocketmapRequest = { readonly ok: true; readonly name: string; readonly key: string } | { readonly ok: false; readonly reason: string };

export type SocketmapReply =
  | { readonly status: 'OK'; readonly value: string }
  | { readonly status: 'NOTFOUND' }
  | { readonly status: 'TEMP' | 'TIMEOUT' | 'PERM'; readonly reason: string };

export function parseSocketmapRequest(payload: Buffer): SocketmapRequest {
  const text = decodeUtf8(payload);
  if (text === undefined) return { ok: false, reason: 'request is not valid UTF-8' };
  const space = text.indexOf(' ');
  if (space <= 0) return { ok: false, reason: space === 0 ? 'request has an empty map name' : 'request has no space between map name and key' };
  const key = text.slice(space + 1);
  if (key === '') return { ok: false, reason: 'request has an empty key' };
  if (/[\0\r\n]/.test(key)) return { ok: false, reason: 'key contains NUL, CR or LF' };
  return { ok: true, name: text.slice(0, space), key };
}

/** The reply payload (not yet netstring-framed). Control characters in texts become spaces. */
export function socketmapReplyText(reply: SocketmapReply): string {
  switch (reply.status) {
    case 'OK':
      return `OK ${clean(reply.value)}`;
    case 'NOTFOUND':
      return 'NOTFOUND ';
    case 'TEMP':
    case 'TIMEOUT':
    case 'PERM':
      return `${reply.status} ${clean(reply.reason)}`;
  }
}

function clean(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x1f\x7f]/g, ' ');
}
