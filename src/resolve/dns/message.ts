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

/** Records of a section, minus the OPT pseudo-record. */
export function recordsOf(section: readonly Answer[] | undefined): readonly Answer[] {
  return (section ?? []).filter((rr) => rr.type !== 'OPT');
}
