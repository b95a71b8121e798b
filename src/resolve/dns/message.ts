// DNS message codec on dns-packet: build queries, decode replies without throwing, and the reply
// matching rules. Pure: bytes in, typed values out.
import { encode, decode, RECURSION_DESIRED, AUTHENTIC_DATA, DNSSEC_OK, type Answer, type DecodedPacket, type RecordType } from 'dns-packet';
import { errorMessage } from '../../errors.ts';

/** EDNS0 UDP payload size: the DNS Flag Day 2020 value, safe from IP fragmentation. */
export const EDNS_UDP_PAYLOAD_SIZE = 1232;

export interface DnsQuestion {
  /** Exactly as sent on the wire, 0x20 case pattern included, no trailing dot. */
  readonly name: string;
  readonly type: RecordType;
}

/**
 * A query with RD=1, AD=1 (RFC 6840 §5.7: we want the AD bit) and an EDNS0 OPT record with DO=1
 * (RFC 3225) so a validating resolver reports DNSSEC status. CD is never set: CD=1 would let a
 * validating resolver hand us bogus data.
 */
export function encodeQuery(id: number, question: DnsQuestion, udpPayloadSize = EDNS_UDP_PAYLOAD_SIZE): Buffer {
  return encode({
    type: 'query',
    id,
    flags: RECURSION_DESIRED | AUTHENTIC_DATA,
    questions: [{ name: question.name, type: question.type, class: 'IN' }],
    additionals: [{ type: 'OPT', name: '.', udpPayloadSize, extendedRcode: 0, ednsVersion: 0, flags: DNSSEC_OK, flag_do: true, options: [] }],
  });
}

export type DecodeResult = { readonly ok: true; readonly packet: DecodedPacket } | { readonly ok: false; readonly detail: string };

/** dns-packet throws plain Errors and RangeErrors on hostile input; this never throws. */
export function decodeMessage(bytes: Buffer): DecodeResult {
  try {
    return { ok: true, packet: decode(bytes) };
  } catch (err) {
    return { ok: false, detail: `undecodable DNS message (${bytes.length} bytes): ${errorMessage(err)}` };
  }
}

/**
 * How a decoded message relates to the query we sent:
 * - `match`: response, same ID, exactly one question equal byte for byte (0x20 case included), same type, class IN;
 * - `case-mismatch`: all that, except the name matches only case-insensitively (the server did not echo 0x20);
 * - `wrong-id`, `wrong-question`, `not-a-response`: not ours (spoofed, stale, or confused); ignore it.
 */
export type ReplyMatch = 'match' | 'case-mismatch' | 'wrong-id' | 'wrong-question' | 'not-a-response';

export function matchReply(packet: DecodedPacket, id: number, question: DnsQuestion): ReplyMatch {
  if (packet.type !== 'response') return 'not-a-response';
  if (packet.id !== id) return 'wrong-id';
  const questions = packet.questions ?? [];
  const q = questions[0];
  if (questions.length !== 1 || q === undefined) return 'wrong-question';
  if (q.type !== question.type || (q.class ?? 'IN') !== 'IN') return 'wrong-question';
  const name = q.name.endsWith('.') ? q.name.slice(0, -1) : q.name;
  if (name === question.name) return 'match';
  return name.toLowerCase() === question.name.toLowerCase() ? 'case-mismatch' : 'wrong-question';
}

/** The RCODE names we act on; every other value is reported by number. */
export const Rcode = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

/** Full RCODE: the OPT record's extended bits above the header's four (RFC 6891 §6.1.3). */
export function rcodeOf(packet: DecodedPacket): number {
  const header = (packet.flags ?? 0) & 0xf;
  const opt = (packet.additionals ?? []).find((rr) => rr.type === 'OPT');
  const extended = opt !== undefined && 'extendedRcode' in opt ? opt.extendedRcode : 0;
  return (extended << 4) | header;
}

/** The OPT pseudo-record's option code for an Extended DNS Error (RFC 8914 §2). */
export const EDE_OPTION_CODE = 15;

/** One Extended DNS Error option (RFC 8914): extra information on why a resolver answered as it did. */
export interface ExtendedDnsError {
  /** INFO-CODE; see EDE_NAMES. */
  readonly infoCode: number;
  /** EXTRA-TEXT, for humans: decoded as UTF-8, control characters replaced, at most EDE_TEXT_MAX code points (then `…`); '' when absent. */
  readonly extraText: string;
}

/** The INFO-CODEs RFC 8914 §4 defines; later registrations are reported by number. */
export const EDE_NAMES: Readonly<Record<number, string>> = {
  0: 'Other Error', 1: 'Unsupported DNSKEY Algorithm', 2: 'Unsupported DS Digest Type', 3: 'Stale Answer', 4: 'Forged Answer',
  5: 'DNSSEC Indeterminate', 6: 'DNSSEC Bogus', 7: 'Signature Expired', 8: 'Signature Not Yet Valid', 9: 'DNSKEY Missing',
  10: 'RRSIGs Missing', 11: 'No Zone Key Bit Set', 12: 'NSEC Missing', 13: 'Cached Error', 14: 'Not Ready', 15: 'Blocked',
  16: 'Censored', 17: 'Filtered', 18: 'Prohibited', 19: 'Stale NXDomain Answer', 20: 'Not Authoritative', 21: 'Not Supported',
  22: 'No Reachable Authority', 23: 'Network Error', 24: 'Invalid Data',
};

const UTF8 = new TextDecoder('utf-8', { fatal: false });

/** EXTRA-TEXT beyond this many characters is cut: it ends up in log lines and reports. */
export const EDE_TEXT_MAX = 300;

/**
 * INFO-CODEs saying the resolver found the data bogus (RFC 4035 §4.3): 6 DNSSEC Bogus, 7 Signature
 * Expired, 8 Signature Not Yet Valid, 9 DNSKEY Missing, 10 RRSIGs Missing, 11 No Zone Key Bit Set,
 * 12 NSEC Missing. Not 1 and 2 (unsupported algorithms make a zone insecure, not bogus), not 5.
 */
export function isDnssecBogusCode(infoCode: number): boolean {
  return infoCode >= 6 && infoCode <= 12;
}

/**
 * Decodes one EDE option's data: a 2-octet INFO-CODE, then optional UTF-8 EXTRA-TEXT (RFC 8914 §2,
 * not NUL-terminated; trailing NULs from servers that add one anyway are dropped). Undefined when
 * the data is too short to hold an INFO-CODE. Never throws.
 */
export function decodeExtendedError(data: Uint8Array): ExtendedDnsError | undefined {
  if (data.length < 2) return undefined;
  const infoCode = ((data[0] ?? 0) << 8) | (data[1] ?? 0);
  let end = data.length;
  while (end > 2 && data[end - 1] === 0) end--;
  return { infoCode, extraText: cleanText(UTF8.decode(data.subarray(2, end))) };
}

/** Every well-formed EDE option of the message's (first) OPT record, in wire order; malformed ones are skipped. */
export function extendedErrorsOf(packet: DecodedPacket): readonly ExtendedDnsError[] {
  const opt = (packet.additionals ?? []).find((rr) => rr.type === 'OPT');
  if (opt === undefined || !('options' in opt)) return [];
  // dns-packet types only the option codes it knows; every decoded option carries its raw data.
  const options: readonly { readonly code: number; readonly data?: Uint8Array | undefined }[] = opt.options;
  const errors: ExtendedDnsError[] = [];
  for (const option of options) {
    if (option.code !== EDE_OPTION_CODE || option.data === undefined) continue;
    const ede = decodeExtendedError(option.data);
    if (ede !== undefined) errors.push(ede);
  }
  return errors;
}

/** `EDE 6 (DNSSEC Bogus): <extra text>`, for details and logs. */
export function describeExtendedError(ede: ExtendedDnsError): string {
  const name = EDE_NAMES[ede.infoCode];
  const head = name === undefined ? `EDE ${ede.infoCode}` : `EDE ${ede.infoCode} (${name})`;
  return ede.extraText === '' ? head : `${head}: ${ede.extraText}`;
}

/** Control characters (C0, DEL, C1) become U+FFFD, so a server's text cannot forge log lines or drive a terminal. */
function cleanText(text: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '\ufffd').trim();
  const chars = Array.from(clean); // code points: a cut never splits a surrogate pair
  return chars.length <= EDE_TEXT_MAX ? clean : `${chars.slice(0, EDE_TEXT_MAX).join('')}…`;
}

/** Records of a section, minus the OPT pseudo-record. */
export function recordsOf(section: readonly Answer[] | undefined): readonly Answer[] {
  return (section ?? []).filter((rr) => rr.type !== 'OPT');
}
