// Command-line framing for the relay's listeners (RFC 5321 §2.3.8, §4.5.3.1.4): lines end in CRLF;
// a bare LF or a CR that is not followed by LF makes the line refused (no guessing where a line
// ends: the same ambiguity is what SMTP smuggling exploits); a line longer than the limit is
// refused without being kept: its bytes are dropped as they arrive until its LF. Pure.

export type LineEvent =
  /** One command line without its CRLF. */
  | { readonly kind: 'line'; readonly bytes: Buffer }
  | { readonly kind: 'too-long' }
  | { readonly kind: 'bare-lf' }
  | { readonly kind: 'bare-cr' };

const LF = 0x0a;
const CR = 0x0d;

export class CommandLineReader {
  readonly #maxLine: number;
  #buffer: Buffer = Buffer.alloc(0);
  /** Inside an overlong line: everything up to its LF is dropped. */
  #discarding = false;

  /** `maxLineBytes` counts the line without its CRLF. */
  constructor(maxLineBytes: number) {
    this.#maxLine = maxLineBytes;
  }

  push(chunk: Uint8Array): void {
    const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.#buffer = this.#buffer.length === 0 ? bytes : Buffer.concat([this.#buffer, bytes]);
  }

  /** The next complete line (or refusal), or undefined until more bytes arrive. */
  next(): LineEvent | undefined {
    const buf = this.#buffer;
    const lf = buf.indexOf(LF);
    if (this.#discarding) {
      if (lf < 0) {
        this.#buffer = Buffer.alloc(0);
        return undefined;
      }
      this.#discarding = false;
      this.#buffer = buf.subarray(lf + 1);
      return { kind: 'too-long' };
    }
    if (lf < 0) {
      // +1: the line's CR may already be here while its LF is not.
      if (buf.length > this.#maxLine + 1) {
        this.#discarding = true;
        this.#buffer = Buffer.alloc(0);
      }
      return undefined;
    }
    this.#buffer = buf.subarray(lf + 1);
    if (lf === 0 || buf[lf - 1] !== CR) return lf > this.#maxLine ? { kind: 'too-long' } : { kind: 'bare-lf' };
    const line = buf.subarray(0, lf - 1);
    if (line.length > this.#maxLine) return { kind: 'too-long' };
    if (line.includes(CR)) return { kind: 'bare-cr' };
    return { kind: 'line', bytes: line };
  }

  /** Hands over the bytes not yet read as lines (what followed DATA), leaving the reader empty. */
  takeRest(): Buffer {
    const rest = this.#buffer;
    this.#buffer = Buffer.alloc(0);
    this.#discarding = false;
    return rest;
  }

  /** Bytes held (at most one partial line plus what arrived behind it). */
  get bufferedBytes(): number {
    return this.#buffer.length;
  }
}
