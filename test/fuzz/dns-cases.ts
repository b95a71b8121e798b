// Hostile DNS replies to one query. A well-formed reply is drawn first (SRV answers with onion,
// clearnet, "." and broken targets, CNAME chains and loops, SOA, OPT with EDE and odd options,
// any RCODE, AD and TC bits), then broken: raw byte mutations, a compression pointer loop, RDATA
// cut short or an RDLENGTH past the end, absurd section counts, the query bit; and it may be
// preceded by spoofs (wrong ID, wrong question, not a response) that carry a hijacking onion,
// which must never come out of the resolver. Pure.
import { encode, AUTHENTIC_DATA, TRUNCATED_RESPONSE, type Answer, type RecordType } from 'dns-packet';
import { mutateBytes } from './mutate.ts';
import type { Prng } from './prng.ts';

export const GENUINE_ONIONS = [
  'aj3nsqqcksrrc5cye5etjsoewz6jrygpekzwoko3q6wyxjlb3dgasfid.onion',
  'llqiiswupgezsco4ux47cco3bxsaihbss5c3piefv6bhvpgfofyk7kad.onion',
] as const;
/** Only ever in spoofed messages. */
export const HIJACK_ONION = 'pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion';

export interface Query {
  readonly id: number;
  /** As sent, 0x20 case included. */
  readonly name: string;
  readonly type: RecordType;
}

export type DnsMutation = 'none' | 'bytes' | 'pointer-loop' | 'cut-rdata' | 'rdlength' | 'counts' | 'query-bit';

export interface DnsReplyCase {
  /** The messages in the order the server sends them: spoofs first, the reply (if any) last. */
  readonly messages: readonly Buffer[];
  readonly spoofs: number;
  readonly mutation: DnsMutation;
}

const TARGETS = [...GENUINE_ONIONS, '.', 'mx.clearnet.example', 'short.onion', 'aj3nsqqcksrrc5cye5etjsoewz6jrygpekzwoko3q6wyxjlb3dgasfia.onion', 'AJ3NSQQCKSRRC5CYE5ETJSOEWZ6JRYGPEKZWOKO3Q6WYXJLB3DGASFID.ONION.', 'x'.repeat(63) + '.onion'];

function srv(name: string, rng: Prng, target?: string): Answer {
  return {
    name, type: 'SRV', ttl: rng.pick([0, 1, 300, 0x7fffffff, 0xffffffff]),
    data: { priority: rng.below(65536), weight: rng.pick([0, 1, 65535]), port: rng.pick([25, 25, 0, 587, 65535]), target: target ?? rng.pick(TARGETS) },
  };
}

function answersFor(q: Query, rng: Prng): Answer[] {
  const out: Answer[] = [];
  const roll = rng.below(10);
  if (roll < 2) {
    // A CNAME chain, sometimes a loop, sometimes past any sane hop count.
    const hops = 1 + rng.below(12);
    let from = q.name;
    for (let i = 0; i < hops; i++) {
      const to = rng.chance(0.1) ? q.name : `c${i}.chain.example`;
      out.push({ name: from, type: 'CNAME', ttl: 60, data: to });
      from = to;
    }
    out.push(srv(from, rng));
    return out;
  }
  for (let i = rng.below(5); i > 0; i--) out.push(srv(rng.chance(0.9) ? q.name : 'other.example', rng));
  if (rng.chance(0.2)) out.push({ name: q.name, type: 'A', ttl: 60, data: '192.0.2.1' });
  if (rng.chance(0.1)) out.push({ name: q.name, type: 'TXT', ttl: 60, data: 'x'.repeat(rng.below(300)) });
  return out;
}

function optRecord(rng: Prng): Answer[] {
  if (rng.chance(0.5)) return [];
  const options = Array.from({ length: rng.below(4) }, () => ({ code: rng.pick([15, 15, 10, 12, 65001]), data: rng.bytes(rng.below(40)) }));
  return [{ type: 'OPT', name: '.', udpPayloadSize: rng.pick([512, 1232, 65535]), extendedRcode: rng.pick([0, 0, 1, 255]), ednsVersion: rng.pick([0, 1]), flags: 0, flag_do: false, options } as unknown as Answer];
}

function render(q: Query, rng: Prng, questionName: string, id: number, answers: Answer[]): Buffer {
  const rcode = rng.pick([0, 0, 0, 3, 3, 2, 5, 1, 4, 9, 15]);
  const flags = rcode | (rng.chance(0.7) ? AUTHENTIC_DATA : 0) | (rng.chance(0.05) ? TRUNCATED_RESPONSE : 0);
  const authorities: Answer[] = rng.chance(0.5)
    ? [{ name: 'example', type: 'SOA', ttl: rng.pick([0, 60, 0xffffffff]), data: { mname: 'ns.example', rname: 'h.example', serial: 1, refresh: 1, retry: 1, expire: 1, minimum: rng.pick([0, 60, 0xffffffff]) } }]
    : [];
  const questions = rng.chance(0.03) ? [] : [{ name: questionName, type: q.type, class: 'IN' as const }];
  if (rng.chance(0.03)) questions.push({ name: questionName, type: q.type, class: 'IN' });
  return encode({ type: 'response', id, flags, questions, answers, authorities, additionals: optRecord(rng) });
}

function questionEnd(m: Buffer): number {
  let i = 12;
  while (i < m.length && m[i] !== 0) i += (m[i] ?? 0) + 1;
  return Math.min(m.length, i + 5);
}

function breakReply(m: Buffer, rng: Prng, how: DnsMutation): Buffer {
  const out = Buffer.from(m);
  const start = questionEnd(m);
  switch (how) {
    case 'none':
      return out;
    case 'bytes':
      return rng.chance(0.5) ? Buffer.concat([out.subarray(0, start), mutateBytes(out.subarray(start), rng)]) : mutateBytes(out, rng);
    case 'pointer-loop': {
      // Two names pointing at each other (or one at itself).
      if (start + 2 > out.length) return out;
      const other = rng.chance(0.5) ? start : 12;
      out[start] = 0xc0 | ((other >> 8) & 0x3f);
      out[start + 1] = other & 0xff;
      if (other === 12 && out.length > 14) {
        out[12] = 0xc0 | ((start >> 8) & 0x3f);
        out[13] = start & 0xff;
      }
      return out;
    }
    case 'cut-rdata':
      return out.subarray(0, start + rng.below(Math.max(1, out.length - start)));
    case 'rdlength': {
      // The first answer's RDLENGTH (after a 2-byte pointer name, type, class, TTL) set past the end.
      const at = start + 10;
      if (at + 2 <= out.length) out.writeUInt16BE(rng.pick([0xffff, out.length, out.length - at]), at);
      return out;
    }
    case 'counts':
      for (let at = 4; at < 12; at += 2) if (rng.chance(0.5)) out.writeUInt16BE(rng.pick([0, 1, 2, 0xffff]), at);
      return out;
    case 'query-bit':
      out[2] = (out[2] ?? 0) & 0x7f;
      return out;
  }
}

const MUTATIONS: readonly DnsMutation[] = ['none', 'none', 'bytes', 'bytes', 'bytes', 'pointer-loop', 'cut-rdata', 'rdlength', 'counts', 'query-bit'];

function spoof(q: Query, rng: Prng): Buffer {
  const answers = [srv(q.name, rng, HIJACK_ONION)];
  switch (rng.below(4)) {
    case 0:
      return render(q, rng, q.name, (q.id + 1 + rng.below(65535)) & 0xffff, answers);
    case 1:
      return render(q, rng, `_onion-mx._tcp.victim${rng.below(10)}.example`, q.id, answers);
    case 2: {
      const m = render(q, rng, q.name, q.id, answers);
      m[2] = (m[2] ?? 0) & 0x7f; // a query, not a response
      return m;
    }
    default: {
      // Right ID, the name in another case pattern than we sent (the 0x20 bits guessed wrong).
      const flipped = q.name.replace(/[a-z]/i, (c) => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()));
      return render(q, rng, flipped === q.name ? `x${q.name}` : flipped, q.id, answers);
    }
  }
}

export function dnsReplyCase(q: Query, rng: Prng): DnsReplyCase {
  const spoofs = rng.chance(0.3) ? 1 + rng.below(3) : 0;
  const messages = Array.from({ length: spoofs }, () => spoof(q, rng));
  const mutation = rng.pick(MUTATIONS);
  if (rng.chance(0.95)) messages.push(breakReply(render(q, rng, q.name, q.id, answersFor(q, rng)), rng, mutation));
  return { messages, spoofs, mutation };
}

/** A plain, correct answer naming the first genuine onion (teaches the resolver that the server echoes 0x20). */
export function genuineReply(q: Query): DnsReplyCase {
  const answers: Answer[] = [{ name: q.name, type: 'SRV', ttl: 60, data: { priority: 0, weight: 0, port: 25, target: GENUINE_ONIONS[0] } }];
  return { messages: [encode({ type: 'response', id: q.id, flags: AUTHENTIC_DATA, questions: [{ name: q.name, type: q.type, class: 'IN' }], answers })], spoofs: 0, mutation: 'none' };
}
