// Generated requests for the four lookup faces: valid pipelines of requests (fast-check picks the
// keys: routed, SRV, clearnet, addresses, odd but legal keys), then broken at one layer: the
// framing (netstring lengths absurd, missing commas and colons, lines past 4096 bytes, no newline),
// the request text (unknown map names and verbs, empty keys, NUL/CR/LF, bad %XX, invalid UTF-8),
// the raw bytes, or the delivery. Pure.
import fc from 'fast-check';
import { encodeNetstring } from '../../src/lookup/netstring.ts';
import { percentEncode } from '../../src/lookup/tcp-table-codec.ts';
import type { LookupProtocol } from '../../src/lookup/index.ts';
import type { SendPlan } from './campaign.ts';
import type { MilterDomains } from './milter-cases.ts';
import { mutateBytes } from './mutate.ts';
import { Prng } from './prng.ts';

export interface LookupCase {
  readonly protocol: LookupProtocol;
  readonly bytes: Buffer;
  /** Requests the stream was built from. */
  readonly requests: number;
  /** True when nothing was mutated: every request must get exactly one well-formed reply. */
  readonly valid: boolean;
  readonly delivery: SendPlan;
}

const PROTOCOLS: readonly LookupProtocol[] = ['socketmap', 'sendmail', 'tcp-table', 'exim'];

function keyArb(domains: MilterDomains): fc.Arbitrary<string> {
  const label = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,9}$/);
  const domain = fc.oneof(fc.constantFrom(domains.pinned, domains.srv, domains.clearnet, `${domains.pinned}.`, domains.pinned.toUpperCase(), ...domains.troubled), label.map((l) => `${l}.example`));
  return fc.oneof(
    { weight: 4, arbitrary: domain },
    { weight: 2, arbitrary: fc.tuple(label, domain).map(([l, d]) => `${l}@${d}`) },
    { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme' }) },
  );
}

/** One request's bytes, well formed, for `protocol`. */
function encodeRequest(protocol: LookupProtocol, key: string, rng: Prng): Buffer {
  switch (protocol) {
    case 'socketmap':
      return encodeNetstring(`onionmx ${key}`);
    case 'sendmail':
      return encodeNetstring(`${rng.pick(['mailertable', 'onionroute'])} ${key}`);
    case 'tcp-table':
      return Buffer.from(`get ${percentEncode(key)}${rng.chance(0.2) ? '\r' : ''}\n`, 'latin1');
    case 'exim':
      return Buffer.from(rng.chance(0.7) ? `route ${key}\n` : `header ${key.replace(/[@\s]/g, '')} ${key.replace(/[@\s]/g, 'x')}\n`, 'utf8');
  }
}

/** A framing or text fault the protocol's decoder must refuse or answer, never choke on. */
function brokenRequest(protocol: LookupProtocol, key: string, rng: Prng): Buffer {
  const big = 'a'.repeat(rng.pick([4095, 4096, 4097, 9999, 10_000, 10_001, 20_000]));
  const netstrings = [
    `99999999999:${key},`, `-1:x,`, `:x,`, `0:,`, `5:abc,`, `3:abcdef,`, `${key.length + 8}:onionmx ${key}`, `10001:${big}`,
    `${big.length + 8}:onionmx ${big},`, `8:onionmx ,`, `7:onionmx,`, `12:nospacehere!,`, `10:badmap x.y,`,
  ];
  const lines = [`get \n`, `put x y\n`, `get %zz\n`, `get %4\n`, `get a b\n`, `get ${big}\n`, `get x`, `get %00%0a\n`, `GET x\n`, `\n`, `get %ff%fe\n`];
  const exim = [`route\n`, `route a b\n`, `header\n`, `header a@b\n`, `frobnicate x\n`, `route ${big}\n`, `route x\x01\n`, `\n`, ``, `route \udc00\n`];
  switch (protocol) {
    case 'socketmap':
    case 'sendmail':
      return rng.chance(0.2) ? Buffer.concat([Buffer.from('8:onionmx '), Buffer.from([0xff, 0xfe]), Buffer.from(',')]) : Buffer.from(rng.pick(netstrings), 'utf8');
    case 'tcp-table':
      return Buffer.from(rng.pick(lines), 'latin1');
    case 'exim':
      return rng.chance(0.2) ? Buffer.from([0x72, 0x6f, 0x75, 0x74, 0x65, 0x20, 0xc3, 0x28, 0x0a]) : Buffer.from(rng.pick(exim), 'utf8');
  }
}

function deliveryFor(bytes: Buffer, rng: Prng): SendPlan {
  const roll = rng.below(100);
  if (roll < 2 && bytes.length <= 300) return { kind: 'byte-at-a-time' };
  if (roll < 10) return { kind: 'disconnect', at: rng.below(bytes.length + 1) };
  if (roll < 40) return { kind: 'split', cuts: Array.from({ length: 1 + rng.below(5) }, () => rng.below(bytes.length + 1)).sort((a, b) => a - b) };
  return { kind: 'whole' };
}

export function lookupCases(domains: MilterDomains, seed: number, count: number): LookupCase[] {
  const rng = new Prng(seed);
  const keyLists = fc.sample(fc.array(keyArb(domains), { minLength: 1, maxLength: 8 }), { seed, numRuns: count });
  return keyLists.map((keys) => {
    const protocol = rng.pick(PROTOCOLS);
    // Exim takes one request per connection.
    const used = protocol === 'exim' ? keys.slice(0, 1) : keys;
    const requests = used.map((k) => encodeRequest(protocol, k, rng));
    const roll = rng.below(10);
    let valid = roll < 3;
    if (roll >= 3 && roll < 7) requests.splice(rng.below(requests.length + 1), 0, brokenRequest(protocol, used[0] ?? 'x', rng));
    let bytes: Buffer = Buffer.concat(requests);
    if (roll >= 7) bytes = mutateBytes(bytes, rng);
    const delivery = deliveryFor(bytes, rng);
    if (delivery.kind === 'disconnect') valid = false;
    return { protocol, bytes, requests: requests.length, valid, delivery };
  });
}

/** Random chunks of any of these streams, for the in-process decoders. */
export function chunked(bytes: Buffer, rng: Prng): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < bytes.length; ) {
    const n = 1 + rng.below(rng.chance(0.3) ? 4 : 256);
    out.push(bytes.subarray(at, at + n));
    at += n;
  }
  return out;
}
