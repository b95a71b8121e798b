// Netstrings (`<decimal length>:<bytes>,`), the framing of the Postfix and Sendmail socketmap
// protocols. Pure: bytes in, frames out. The decoder is incremental (a frame may arrive split at
// any byte) and refuses a frame longer than its cap as soon as the length is read, before
// buffering the payload.

export type NetstringResult =
  | { readonly ok: true; readonly frames: readonly Buffer[] }
  /** The stream cannot be resynchronised after this: reply with an error and close. */
  | { readonly ok: false; readonly frames: readonly Buffer[]; readonly reason: string };

const COLON = 0x3a;
const COMMA = 0x2c;
const ZERO = 0x30;
const NINE = 0x39;

export class NetstringDecoder {
  readonly #maxLength: number;
  readonly #maxDigits: number;
  #pending: Buffer = Buffer.alloc(0);
  #failed: string | undefined;
  /** Bytes consumed so far, for error positions. */
  #offset = 0;

  constructor(maxLength: number) {
    this.#maxLength = maxLength;
    this.#maxDigits = String(maxLength).length;
  }

  /** True when only part of a frame (or nothing) is buffered: EOF here is clean only if `pending` is 0. */
  get pendingBytes(): number {
    return this.#pending.length;
  }

  push(chunk: Uint8Array): NetstringResult {
    if (this.#failed !== undefined) return { ok: false, frames: [], reason: this.#failed };
    const buf = this.#pending.length === 0 ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength) : Buffer.concat([this.#pending, chunk]);
    const frames: Buffer[] = [];
    let at = 0;
    for (;;) {
      const r = this.#frameAt(buf, at);
      if (r.kind === 'need-more') break;
      if (r.kind === 'error') {
        this.#failed = `${r.reason} at byte ${this.#offset + r.position}`;
        this.#pending = Buffer.alloc(0);
        return { ok: false, frames, reason: this.#failed };
      }
      frames.push(r.frame);
      this.#offset += r.next - at;
      at = r.next;
    }
    // Copy the remainder: the caller's chunk may be reused by the stream.
    this.#pending = at === buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(at));
    return { ok: true, frames };
  }

  #frameAt(buf: Buffer, start: number): { kind: 'frame'; frame: Buffer; next: number } | { kind: 'need-more' } | { kind: 'error'; reason: string; position: number } {
    let length = 0;
    let i = start;
    for (; i < buf.length; i++) {
      const c = buf[i] ?? 0;
      if (c === COLON) break;
      if (c < ZERO || c > NINE) return { kind: 'error', reason: `netstring length: expected a digit or ':', got ${describeByte(c)}`, position: i - start };
      if (i - start >= this.#maxDigits) return { kind: 'error', reason: `netstring longer than the ${this.#maxLength}-byte limit`, position: i - start };
      length = length * 10 + (c - ZERO);
    }
    if (i === buf.length) return { kind: 'need-more' };
    if (i === start) return { kind: 'error', reason: 'netstring length: no digits before ":"', position: 0 };
    if (length > this.#maxLength) return { kind: 'error', reason: `netstring of ${length} bytes is longer than the ${this.#maxLength}-byte limit`, position: 0 };
    const payloadStart = i + 1;
    const comma = payloadStart + length;
    if (comma >= buf.length) return { kind: 'need-more' };
    if (buf[comma] !== COMMA) return { kind: 'error', reason: `netstring: expected ',' after ${length} bytes, got ${describeByte(buf[comma] ?? 0)}`, position: comma - start };
    return { kind: 'frame', frame: buf.subarray(payloadStart, comma), next: comma + 1 };
  }
}

export function encodeNetstring(payload: string | Uint8Array): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  return Buffer.concat([Buffer.from(`${body.length}:`, 'latin1'), body, Buffer.from(',', 'latin1')]);
}

function describeByte(c: number): string {
  return c >= 0x21 && c <= 0x7e ? `'${String.fromCharCode(c)}'` : `0x${c.toString(16).padStart(2, '0')}`;
}
