// Generated milter conversations for the listener campaign. fast-check draws structured MTA
// conversations (an MTA profile, negotiation, CONNECT/HELO with macros, 1-3 messages with
// recipients, headers, body chunks, abort or end of message, QUIT); the mutators then break one layer: a field inside a
// packet (length recomputed, so the frame is well formed and the content is hostile), the length
// field itself (0, 0xFFFFFFFF, off by one), the command byte, the negotiation numbers, the packet
// order, one packet repeated hundreds of times, the raw bytes, or the delivery (random splits, byte at a time, a disconnect mid-frame).
// Pure: the case is bytes plus how to send them.
import fc from 'fast-check';
import * as mta from '../../src/milter/wire/mta-commands.ts';
import { Prng } from './prng.ts';
import { mutateBytes } from './mutate.ts';
import type { SendPlan } from './campaign.ts';

/** Domains the fuzz daemon knows: pinned in its map, SRV in its DNS, NXDOMAIN. */
export interface MilterDomains {
  readonly pinned: string;
  readonly srv: string;
  readonly clearnet: string;
  /** Domains whose lookups fail or never finish. */
  readonly troubled: readonly string[];
}

export type Mutation = 'none' | 'field' | 'length' | 'command' | 'negotiation' | 'order' | 'flood' | 'bytes' | 'garbage';

export interface MilterCase {
  readonly bytes: Buffer;
  /** Packets the stream was built from (after packet-level mutation). */
  readonly frames: number;
  readonly mutation: Mutation;
  readonly delivery: SendPlan;
  /** For unmutated conversations: the verdicts the routing filter owes (see verdictsOwed). */
  readonly verdicts?: number;
}

interface Message {
  readonly qid: string;
  readonly from: string;
  readonly rcpts: readonly string[];
  readonly headers: readonly (readonly [string, string])[];
  readonly body: readonly Uint8Array[];
  readonly abort: boolean;
}

/**
 * What the MTA offers and how it behaves. `postfix-3` offers everything (version 6) and sends every
 * event even where the filter negotiated it away (an MTA more talkative than the protocol allows:
 * the daemon must stay silent); `v2` and `v4` are older milter_protocol settings without the
 * no-reply bits, which send only what the filter wants and get a reply for MAIL and each header.
 */
type MtaProfile = 'postfix-3' | 'v2' | 'v4';

const OPTNEG: Readonly<Record<MtaProfile, readonly [number, number, number]>> = {
  'postfix-3': [6, 0x1ff, 0x1fffff],
  v2: [2, 0x3f, 0x7f],
  v4: [4, 0x3f, 0x3ff],
};

interface Conversation {
  readonly mta: MtaProfile;
  readonly client: string;
  readonly address: string;
  readonly port: number;
  readonly helo: string;
  readonly messages: readonly Message[];
  readonly quit: 'quit' | 'quit-nc' | 'none';
}

function conversationArb(domains: MilterDomains): fc.Arbitrary<Conversation> {
  const label = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,9}$/);
  const host = fc.tuple(label, label).map(([a, b]) => `${a}.${b}.example`);
  const domain = fc.oneof(fc.constantFrom(domains.pinned, domains.srv, domains.clearnet, domains.pinned.toUpperCase(), ...domains.troubled), host);
  const local = fc.stringMatching(/^[a-z0-9][a-z0-9.+_-]{0,11}$/);
  const address = fc.tuple(local, domain).map(([l, d]) => `<${l}@${d}>`);
  const headerName = fc.oneof(fc.constantFrom('From', 'To', 'Subject', 'X-Onion-Route', 'x-onion-route', 'Received'), fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,15}$/));
  const headerValue = fc.string({ maxLength: 80 });
  const message: fc.Arbitrary<Message> = fc.record({
    qid: fc.stringMatching(/^[0-9A-F]{6,12}$/),
    from: fc.oneof(fc.constant('<>'), address),
    rcpts: fc.array(address, { minLength: 1, maxLength: 4 }),
    headers: fc.array(fc.tuple(headerName, headerValue), { maxLength: 6 }),
    body: fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 3 }),
    abort: fc.boolean(),
  });
  return fc.record({
    mta: fc.oneof({ weight: 6, arbitrary: fc.constant('postfix-3' as const) }, { weight: 1, arbitrary: fc.constant('v2' as const) }, { weight: 1, arbitrary: fc.constant('v4' as const) }),
    client: host,
    address: fc.ipV4(),
    port: fc.integer({ min: 1, max: 65535 }),
    helo: host,
    messages: fc.array(message, { minLength: 1, maxLength: 3 }),
    quit: fc.constantFrom('quit' as const, 'quit-nc' as const, 'none' as const),
  });
}

/** The packets the MTA would send for the conversation. */
function packetsOf(c: Conversation): Buffer[] {
  const all = c.mta === 'postfix-3';
  const out: Buffer[] = [mta.encodeOptneg(...OPTNEG[c.mta])];
  if (all) {
    out.push(
      mta.encodeMacro('C', [['j', 'mx.example'], ['{daemon_name}', 'mx.example'], ['_', `${c.client} [${c.address}]`]]),
      mta.encodeConnect(c.client, 'inet', c.port, c.address),
      mta.encodeMacro('H', [['{tls_version}', 'TLSv1.3']]),
      mta.encodeHelo(c.helo),
    );
  }
  for (const m of c.messages) {
    out.push(mta.encodeMacro('M', [['i', m.qid], ['{mail_addr}', m.from.slice(1, -1)], ['{mail_mailer}', 'smtp']]), mta.encodeMail(m.from, ['SIZE=512']));
    for (const r of m.rcpts) out.push(mta.encodeMacro('R', [['{rcpt_addr}', r.slice(1, -1)], ['{rcpt_mailer}', 'smtp']]), mta.encodeRcpt(r));
    if (all) out.push(mta.encodeMacro('T', [['i', m.qid]]), mta.DATA);
    for (const [name, value] of m.headers) out.push(mta.encodeMacro('L', [['i', m.qid]]), mta.encodeHeader(name, value));
    if (all) {
      out.push(mta.END_OF_HEADERS);
      for (const chunk of m.body) out.push(mta.encodeBody(chunk));
    }
    out.push(m.abort ? mta.ABORT : mta.END_OF_MESSAGE);
  }
  if (c.quit === 'quit' || (c.quit === 'quit-nc' && !all)) out.push(mta.QUIT);
  else if (c.quit === 'quit-nc') out.push(mta.QUIT_NEW_CONNECTION);
  return out;
}

/** Verdicts the routing filter owes: one per RCPT and end of message, and without no-reply bits per MAIL and header. */
function verdictsOwed(c: Conversation): number {
  const repliesToMailAndHeaders = c.mta !== 'postfix-3';
  return c.messages.reduce((n, m) => n + m.rcpts.length + (m.abort ? 0 : 1) + (repliesToMailAndHeaders ? 1 + m.headers.length : 0), 0);
}

const KNOWN_COMMANDS = Buffer.from('ABCDEHKLMNOQRTU');
const ABSURD_U32 = [0, 1, 2, 3, 5, 7, 0xff, 0x7fffffff, 0x80000000, 0xffffffff] as const;
const ABSURD_LENGTHS = [0, 0xffffffff, 0x7fffffff, 0x00100001, 0x10000] as const;

function frame(code: number, payload: Buffer): Buffer {
  const head = Buffer.allocUnsafe(5);
  head.writeUInt32BE(payload.length + 1, 0);
  head[4] = code;
  return Buffer.concat([head, payload]);
}

/** A NUL-delimited segment (its NUL kept) replaced by something hostile; the length is recomputed. */
function mutateField(packet: Buffer, rng: Prng): Buffer {
  const payload = packet.subarray(5);
  const fields: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < payload.length; i++) {
    if (payload[i] === 0) {
      fields.push(payload.subarray(start, i + 1));
      start = i + 1;
    }
  }
  if (start < payload.length) fields.push(payload.subarray(start));
  const i = rng.below(fields.length + 1);
  const old = fields[i] ?? Buffer.alloc(0);
  const nul = Buffer.from([0]);
  const choices: (() => Buffer)[] = [
    () => (old.at(-1) === 0 ? old.subarray(0, -1) : Buffer.concat([old, nul])), // NUL missing (or extra)
    () => Buffer.alloc(0), // field gone
    () => nul, // empty string
    () => Buffer.concat([rng.bytes(1 + rng.below(64)), nul]),
    () => Buffer.concat([Buffer.alloc(1 + rng.below(4000), 0x41 + rng.below(26)), nul]), // long
    () => Buffer.concat([old, old]),
    () => Buffer.concat([Buffer.from(['<', '<>', '@', '<@>', '<a@b@c>', '<"q\\"x"@d>', '\u00ff\u00fe', '%00', '..'][rng.below(9)] ?? '', 'latin1'), nul]),
    () => mutateBytes(old, rng),
  ];
  fields[i] = rng.pick(choices)();
  return frame(packet[4] ?? 0, Buffer.concat(fields));
}

function withLength(packet: Buffer, length: number): Buffer {
  const out = Buffer.from(packet);
  out.writeUInt32BE(length >>> 0, 0);
  return out;
}

function mutatePackets(packets: Buffer[], rng: Prng, mutation: Mutation): Buffer[] {
  const out = [...packets];
  const i = rng.below(out.length);
  const p = out[i];
  if (p === undefined) return out;
  switch (mutation) {
    case 'field':
      out[i] = mutateField(p, rng);
      if (rng.chance(0.3)) {
        const j = rng.below(out.length);
        const q = out[j];
        if (q !== undefined) out[j] = mutateField(q, rng);
      }
      break;
    case 'length': {
      const n = p.readUInt32BE(0);
      out[i] = withLength(p, rng.pick([...ABSURD_LENGTHS, n - 1, n + 1, n + 1 + rng.below(100), rng.u32()]));
      break;
    }
    case 'command': {
      let code = rng.u32() & 0xff;
      while (KNOWN_COMMANDS.includes(code) && rng.chance(0.7)) code = rng.u32() & 0xff;
      out[i] = Buffer.from(p);
      out[i][4] = code;
      break;
    }
    case 'negotiation':
      out[0] = rng.chance(0.8)
        ? mta.encodeOptneg(rng.pick([...ABSURD_U32, rng.u32()]), rng.pick([...ABSURD_U32, rng.u32()]), rng.pick([...ABSURD_U32, rng.u32()]))
        : frame(0x4f, rng.bytes(rng.below(24)));
      if (rng.chance(0.3)) out.splice(1 + rng.below(out.length), 0, out[0]); // negotiating twice
      break;
    case 'order': {
      const j = rng.below(out.length);
      const q = out[j];
      if (q === undefined) break;
      if (rng.chance(0.4)) [out[i], out[j]] = [q, p];
      else if (rng.chance(0.5)) out.splice(i, 1);
      else out.splice(j, 0, p);
      break;
    }
    case 'flood':
      // One packet many times over: hundreds of recipients, headers, macros or body chunks.
      out.splice(i, 0, ...Array.from({ length: 50 + rng.below(450) }, () => p));
      break;
    case 'none':
    case 'bytes':
    case 'garbage':
      break;
  }
  return out;
}

const MUTATIONS: readonly Mutation[] = ['none', 'field', 'field', 'field', 'length', 'command', 'negotiation', 'order', 'order', 'flood', 'bytes', 'bytes', 'garbage'];

function deliveryFor(bytes: Buffer, rng: Prng): SendPlan {
  const roll = rng.below(1000) / 10;
  if (roll < 0.2) return { kind: 'stall' };
  if (roll < 2 && bytes.length <= 400) return { kind: 'byte-at-a-time' };
  if (roll < 12) return { kind: 'disconnect', at: rng.below(bytes.length + 1) };
  if (roll < 40) {
    const cuts = Array.from({ length: 1 + rng.below(6) }, () => rng.below(bytes.length + 1)).sort((a, b) => a - b);
    return { kind: 'split', cuts };
  }
  return { kind: 'whole' };
}

/** `count` cases from one seed; the same seed always gives the same cases. */
export function milterCases(domains: MilterDomains, seed: number, count: number): MilterCase[] {
  const rng = new Prng(seed);
  const conversations = fc.sample(conversationArb(domains), { seed, numRuns: count });
  return conversations.map((c) => {
    const mutation = rng.pick(MUTATIONS);
    let packets = mutatePackets(packetsOf(c), rng, mutation);
    if (mutation === 'garbage') packets = [rng.chance(0.5) ? packets[0] ?? Buffer.alloc(0) : Buffer.alloc(0), rng.bytes(rng.below(600))];
    let bytes: Buffer = Buffer.concat(packets);
    if (mutation === 'bytes') bytes = mutateBytes(bytes, rng);
    return { bytes, frames: packets.length, mutation, delivery: deliveryFor(bytes, rng), ...(mutation === 'none' ? { verdicts: verdictsOwed(c) } : {}) };
  });
}
