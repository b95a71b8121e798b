import { ErrorCode, ProtocolError } from '../../errors.ts';
import { decodeText } from './text.ts';

/**
 * A bounds-checked cursor over one packet payload. Every read checks the remaining length first,
 * so a short or hostile packet becomes a ProtocolError naming the command, never a RangeError.
 */
export class Reader {
  readonly #buf: Buffer;
  readonly #what: string;
  #pos = 0;

  /** `what` names the packet in error messages, e.g. `SMFIC_CONNECT`. */
  constructor(buf: Buffer, what: string) {
    this.#buf = buf;
    this.#what = what;
  }

  get remaining(): number {
    return this.#buf.length - this.#pos;
  }

  get position(): number {
    return this.#pos;
  }

  u8(): number {
    this.#need(1, 'u8');
    return this.#buf.readUInt8(this.#pos++);
  }

  u16(): number {
    this.#need(2, 'u16');
    const v = this.#buf.readUInt16BE(this.#pos);
    this.#pos += 2;
    return v;
  }

  u32(): number {
    this.#need(4, 'u32');
    const v = this.#buf.readUInt32BE(this.#pos);
    this.#pos += 4;
    return v;
  }

  /** A NUL-terminated string; the NUL is consumed. */
  cstring(field: string): string {
    const end = this.#buf.indexOf(0, this.#pos);
    if (end < 0) {
      throw new ProtocolError(
        ErrorCode.MilterUnterminatedString,
        `${this.#what}: ${field} at offset ${this.#pos} has no terminating NUL`,
      );
    }
    const s = decodeText(this.#buf, this.#pos, end);
    this.#pos = end + 1;
    return s;
  }

  /** NUL-terminated strings up to the end of the payload (a "string array"). */
  cstrings(field: string): string[] {
    const out: string[] = [];
    while (this.remaining > 0) out.push(this.cstring(`${field}[${out.length}]`));
    return out;
  }

  /** The rest of the payload, copied so it never aliases the frame buffer. */
  rest(): Buffer {
    const b = Buffer.from(this.#buf.subarray(this.#pos));
    this.#pos = this.#buf.length;
    return b;
  }

  /** Asserts the payload was consumed completely. */
  end(): void {
    if (this.#pos !== this.#buf.length) {
      throw new ProtocolError(
        ErrorCode.MilterTrailingBytes,
        `${this.#what}: ${this.#buf.length - this.#pos} unexpected trailing byte(s) at offset ${this.#pos}`,
      );
    }
  }

  #need(n: number, kind: string): void {
    if (this.#pos + n > this.#buf.length) {
      throw new ProtocolError(
        ErrorCode.MilterTruncated,
        `${this.#what}: truncated, ${kind} at offset ${this.#pos} needs ${n} byte(s), ${this.remaining} left`,
      );
    }
  }
}
