// Postfix tcp_table: `get SPACE <%XX-encoded key> NEWLINE` requests and `200|400|500 SPACE <text>
// NEWLINE` replies of at most 4096 bytes including the newline. Pure.
//
// Encoding as Postfix's hex_quote: `%`, whitespace and every byte that is not printable ASCII
// (controls, DEL, bytes >= 0x80) are written `%XX`; decoding accepts either hex case.

import { decodeUtf8 } from './utf8.ts';

export const TCP_TABLE_MAX_LINE = 4096;

export type TcpTableRequest = { readonly ok: true; readonly key: string } | { readonly ok: false; readonly reason: string };

export type TcpTableReply = { readonly status: 200; readonly value: string } | { readonly status: 400 | 500; readonly reason: string };

/** Splits a byte stream into lines of at most `maxLine` bytes (newline included), incrementally. */
export class LineDecoder {
  readonly #maxLine: number;
  #pending: Buffer = Buffer.alloc(0);
  #failed: string | undefined;

  constructor(maxLine: number) {
    this.#maxLine = maxLine;
  }

  get pendingBytes(): number {
    return this.#pending.length;
  }

  /** Lines without their `\n` (a preceding `\r` is kept: the protocol decides). */
  push(chunk: Uint8Array): { readonly ok: true; readonly lines: readonly Buffer[] } | { readonly ok: false; readonly lines: readonly Buffer[]; readonly reason: string } {
    if (this.#failed !== undefined) return { ok: false, lines: [], reason: this.#failed };
    const buf = this.#pending.length === 0 ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength) : Buffer.concat([this.#pending, chunk]);
    const lines: Buffer[] = [];
    let at = 0;
    for (;;) {
      const nl = buf.indexOf(0x0a, at);
      const end = nl < 0 ? buf.length : nl + 1;
      if (end - at > this.#maxLine || (nl < 0 && end - at >= this.#maxLine)) {
        this.#failed = `request line longer than ${this.#maxLine} bytes`;
        this.#pending = Buffer.alloc(0);
        return { ok: false, lines, reason: this.#failed };
      }
      if (nl < 0) break;
      lines.push(buf.subarray(at, nl));
      at = nl + 1;
    }
    this.#pending = at === buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(at));
    return { ok: true, lines };
  }
}

export function parseTcpTableRequest(line: Buffer): TcpTableRequest {
  const text = line.toString('latin1');
  if (!text.startsWith('get ')) {
    const word = /^\S*/.exec(text)?.[0] ?? '';
    return { ok: false, reason: word === '' ? 'empty request' : `unsupported request "${word.slice(0, 16)}" (only "get" is implemented)` };
  }
  const encoded = text.slice(4);
  if (encoded === '') return { ok: false, reason: 'empty key' };
  const decoded = percentDecode(encoded);
  if (!decoded.ok) return decoded;
  const key = decodeUtf8(decoded.bytes);
  if (key === undefined) return { ok: false, reason: 'key is not valid UTF-8' };
  if (/[\0\r\n]/.test(key)) return { ok: false, reason: 'key contains NUL, CR or LF' };
  return { ok: true, key };
}

export function percentDecode(text: string): { readonly ok: true; readonly bytes: Buffer } | { readonly ok: false; readonly reason: string } {
  const out = Buffer.allocUnsafe(text.length);
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x25) {
      const hex = text.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return { ok: false, reason: `bad %XX escape at offset ${i}` };
      out[n++] = parseInt(hex, 16);
      i += 2;
    } else if (c <= 0x20 || c >= 0x7f) {
      return { ok: false, reason: `unencoded ${c === 0x20 ? 'space' : `byte 0x${c.toString(16).padStart(2, '0')}`} at offset ${i}` };
    } else {
      out[n++] = c;
    }
  }
  return { ok: true, bytes: out.subarray(0, n) };
}

export function percentEncode(text: string): string {
  const bytes = Buffer.from(text, 'utf8');
  let out = '';
  for (const b of bytes) {
    out += b <= 0x20 || b >= 0x7f || b === 0x25 ? `%${b.toString(16).toUpperCase().padStart(2, '0')}` : String.fromCharCode(b);
  }
  return out;
}

/** The reply line with its newline, never longer than 4096 bytes (a long reason is cut). */
export function tcpTableReplyLine(reply: TcpTableReply): string {
  const text = percentEncode(reply.status === 200 ? reply.value : reply.reason);
  const room = TCP_TABLE_MAX_LINE - 5; // "NNN " + "\n"
  return `${reply.status} ${text.length > room ? cutEncoded(text, room) : text}\n`;
}

/** Cuts at `max` without splitting a %XX escape. */
function cutEncoded(text: string, max: number): string {
  let cut = text.slice(0, max);
  const pct = cut.lastIndexOf('%');
  if (pct >= 0 && pct > max - 3) cut = cut.slice(0, pct);
  return cut;
}
