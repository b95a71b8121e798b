// DNS over TCP framing (RFC 1035 §4.2.2, RFC 7766 §8): each message is preceded by a two-octet
// big-endian length. Incremental: Node delivers arbitrary chunks, split anywhere.
import { ErrorCode, ProtocolError } from '../../errors.ts';

export function frameTcpMessage(message: Buffer): Buffer {
  if (message.length > 0xffff) throw new RangeError(`DNS message of ${message.length} bytes does not fit a TCP frame`);
  const frame = Buffer.allocUnsafe(message.length + 2);
  frame.writeUInt16BE(message.length, 0);
  message.copy(frame, 2);
  return frame;
}

/** Collects length-prefixed messages; holds at most one incomplete frame (≤ maxMessageBytes + 2 bytes). */
export class DnsTcpFramer {
  readonly #maxMessageBytes: number;
  #pending: Buffer = Buffer.alloc(0);
  #consumed = 0;

  /** @param maxMessageBytes largest message accepted; the 2-octet length caps it at 65535 anyway. */
  constructor(maxMessageBytes = 0xffff) {
    this.#maxMessageBytes = maxMessageBytes;
  }

  /**
   * Returns every message completed by this chunk (copies, safe to keep). Throws a ProtocolError
   * naming the stream offset on a zero-length or oversized frame; the connection is then unusable.
   */
  push(chunk: Buffer): Buffer[] {
    let buf = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    const out: Buffer[] = [];
    while (buf.length >= 2) {
      const length = buf.readUInt16BE(0);
      if (length === 0 || length > this.#maxMessageBytes) {
        throw new ProtocolError(ErrorCode.DnsMalformed, `DNS/TCP frame at stream offset ${this.#consumed} announces ${length} bytes (allowed 1..${this.#maxMessageBytes})`);
      }
      if (buf.length < length + 2) break;
      out.push(Buffer.from(buf.subarray(2, length + 2)));
      buf = buf.subarray(length + 2);
      this.#consumed += length + 2;
    }
    this.#pending = Buffer.from(buf);
    return out;
  }

  /** Bytes of an incomplete frame still waiting for the rest. */
  get pendingBytes(): number {
    return this.#pending.length;
  }
}
