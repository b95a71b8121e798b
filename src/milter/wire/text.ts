// Bytes <-> strings for milter payloads. MTAs send 8-bit data (SMTPUTF8 addresses, raw headers):
// valid UTF-8 is decoded as UTF-8, anything else as latin1 so no byte is ever lost or replaced.

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function decodeText(buf: Buffer, start: number, end: number): string {
  for (let i = start; i < end; i++) {
    if ((buf[i] ?? 0) >= 0x80) return decodeEightBit(buf.subarray(start, end));
  }
  return buf.toString('latin1', start, end);
}

function decodeEightBit(bytes: Buffer): string {
  try {
    return utf8.decode(bytes);
  } catch {
    return bytes.toString('latin1');
  }
}

/** Encoded length of `s` without the NUL. */
export function textLength(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}
