// Builds one packet (4-byte big-endian length, code byte, data) into a reused scratch buffer and
// copies it out once: one allocation per packet, no Buffer.concat. Build each packet in one
// synchronous chain (`new PacketWriter(c).u32(v).cstring(s).finish()`); never interleave two writers.

let scratch = Buffer.allocUnsafe(64 * 1024);

export class PacketWriter {
  #pos = 5;
  readonly #code: number;

  constructor(code: number) {
    this.#code = code;
  }

  u8(v: number): this {
    this.#ensure(1);
    scratch[this.#pos++] = v;
    return this;
  }

  u16(v: number): this {
    this.#ensure(2);
    scratch.writeUInt16BE(v, this.#pos);
    this.#pos += 2;
    return this;
  }

  u32(v: number): this {
    this.#ensure(4);
    scratch.writeUInt32BE(v >>> 0, this.#pos);
    this.#pos += 4;
    return this;
  }

  /** The string as UTF-8 followed by a NUL. */
  cstring(s: string): this {
    this.#ensure(s.length * 3 + 1);
    this.#pos += scratch.write(s, this.#pos, 'utf8');
    scratch[this.#pos++] = 0;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.#ensure(b.length);
    scratch.set(b, this.#pos);
    this.#pos += b.length;
    return this;
  }

  /** The finished packet (a fresh Buffer). */
  finish(): Buffer {
    scratch.writeUInt32BE(this.#pos - 4, 0);
    scratch[4] = this.#code;
    return Buffer.from(scratch.subarray(0, this.#pos));
  }

  #ensure(n: number): void {
    if (this.#pos + n <= scratch.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(scratch.length * 2, this.#pos + n));
    scratch.copy(bigger, 0, 0, this.#pos);
    scratch = bigger;
  }
}

/** A data-less packet: `00 00 00 01 code`. */
export function emptyPacket(code: number): Buffer {
  const b = Buffer.allocUnsafe(5);
  b.writeUInt32BE(1, 0);
  b[4] = code;
  return b;
}
