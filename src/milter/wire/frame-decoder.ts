import { ErrorCode, ProtocolError } from '../../errors.ts';
import { DEFAULT_MAX_FRAME_BYTES } from './constants.ts';

/** One packet: its code byte and data (without length and code). */
export interface Frame {
  readonly code: number;
  readonly payload: Buffer;
}

/**
 * Incremental decoder for milter packets (`u32be len` = 1 + data length, `u8 code`, data) that
 * accepts chunks split at any byte. Complete packets are decoded straight from the caller's chunk
 * when nothing is buffered; a partial tail is kept in an internal buffer with explicit cursors that
 * is compacted or doubled, never concatenated per chunk. A length of 0 or above `maxFrameBytes` is
 * refused before anything is allocated for it.
 *
 * Payloads from the internal buffer are copies; payloads of packets that were complete inside one
 * chunk are views of that chunk (sockets hand out fresh buffers per read).
 */
export class FrameDecoder {
  readonly #max: number;
  #buf: Buffer = Buffer.alloc(0);
  #start = 0;
  #end = 0;
  /** Bytes consumed so far, for error locations. */
  #offset = 0;

  constructor(maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES) {
    this.#max = maxFrameBytes;
  }

  /** True while part of a packet is buffered (an EOF now would truncate it). */
  get hasPartial(): boolean {
    return this.#end > this.#start;
  }

  /** Feeds a chunk; returns the packets it completes, in order. Throws ProtocolError on a bad length. */
  push(chunk: Buffer): Frame[] {
    const frames: Frame[] = [];
    let data = chunk;
    if (this.#end > this.#start) {
      // Complete the buffered packet first, taking only what it needs from the chunk.
      const taken = this.#completeBuffered(chunk, frames);
      if (taken < 0) return frames;
      data = chunk.subarray(taken);
    }
    let pos = 0;
    while (data.length - pos >= 4) {
      const n = this.#checkLength(data.readUInt32BE(pos));
      if (data.length - pos - 4 < n) break;
      frames.push({ code: data.readUInt8(pos + 4), payload: data.subarray(pos + 5, pos + 4 + n) });
      pos += 4 + n;
      this.#offset += 4 + n;
    }
    if (pos < data.length) this.#stash(data.subarray(pos));
    return frames;
  }

  /** Returns how many chunk bytes were used, or -1 when the chunk was swallowed without completing. */
  #completeBuffered(chunk: Buffer, frames: Frame[]): number {
    let used = 0;
    if (this.#end - this.#start < 4) {
      used = Math.min(4 - (this.#end - this.#start), chunk.length);
      this.#append(chunk.subarray(0, used));
      if (this.#end - this.#start < 4) return -1;
    }
    const n = this.#checkLength(this.#buf.readUInt32BE(this.#start));
    const missing = 4 + n - (this.#end - this.#start);
    const take = Math.min(missing, chunk.length - used);
    this.#append(chunk.subarray(used, used + take));
    used += take;
    if (take < missing) return -1;
    const s = this.#start;
    frames.push({ code: this.#buf.readUInt8(s + 4), payload: Buffer.from(this.#buf.subarray(s + 5, s + 4 + n)) });
    this.#offset += 4 + n;
    this.#start = this.#end = 0;
    return used;
  }

  #checkLength(n: number): number {
    if (n === 0 || n > this.#max) {
      throw new ProtocolError(
        ErrorCode.MilterFrameLength,
        `packet at stream offset ${this.#offset}: length ${n} outside 1..${this.#max}`,
      );
    }
    return n;
  }

  #stash(bytes: Buffer): void {
    this.#start = this.#end = 0;
    this.#append(bytes);
  }

  #append(bytes: Buffer): void {
    if (bytes.length === 0) return;
    const used = this.#end - this.#start;
    if (this.#end + bytes.length > this.#buf.length) {
      if (used + bytes.length <= this.#buf.length) {
        this.#buf.copy(this.#buf, 0, this.#start, this.#end);
      } else {
        // Grows only as far as the data received: a length prefix alone never allocates.
        const bigger = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, used + bytes.length, 256));
        this.#buf.copy(bigger, 0, this.#start, this.#end);
        this.#buf = bigger;
      }
      this.#start = 0;
      this.#end = used;
    }
    bytes.copy(this.#buf, this.#end);
    this.#end += bytes.length;
  }
}
