// Header names and values as filters write them (SMFIR_ADDHEADER/INSHEADER/CHGHEADER).
import { ErrorCode, ProtocolError } from '../../errors.ts';

/**
 * Values go to the MTA with LF line ends (Postfix: "Using CRLF results in double CR sequences")
 * and never with NUL (Postfix would see an extra string and fail the filter): CRLF and lone CR
 * become LF, NUL becomes a space.
 */
export function normalizeHeaderValue(value: string): string {
  return value.replace(/\r\n?/g, '\n').replaceAll('\0', ' ');
}

/** RFC 5322 field name: printable ASCII except SP and colon. Throws ProtocolError(MilterBadHeader). */
export function assertHeaderName(name: string): void {
  if (!/^[\x21-\x39\x3b-\x7e]+$/.test(name)) {
    throw new ProtocolError(ErrorCode.MilterBadHeader, `invalid header name ${JSON.stringify(name)}`);
  }
}
