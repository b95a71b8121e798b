// Byte-level mutators shared by the targets: flips, deletions, insertions, duplications, cuts and
// "interesting" integers written over a position. Pure: a new buffer out, the input untouched.
import type { Prng } from './prng.ts';

const INTERESTING_U32 = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff] as const;
const INTERESTING_BYTES = [0x00, 0x01, 0x0a, 0x0d, 0x20, 0x2c, 0x3a, 0x25, 0x7f, 0x80, 0xc0, 0xff] as const;

export type ByteMutation = 'flip' | 'delete' | 'insert' | 'duplicate' | 'truncate' | 'u32' | 'interesting-byte';
const MUTATIONS: readonly ByteMutation[] = ['flip', 'delete', 'insert', 'duplicate', 'truncate', 'u32', 'interesting-byte'];

export function mutateBytes(input: Buffer, rng: Prng, rounds = 1 + rng.below(4)): Buffer {
  let b = input;
  for (let i = 0; i < rounds; i++) b = mutateOnce(b, rng, rng.pick(MUTATIONS));
  return b;
}

export function mutateOnce(b: Buffer, rng: Prng, how: ByteMutation): Buffer {
  const at = rng.below(b.length + 1);
  switch (how) {
    case 'flip': {
      if (at >= b.length) return b;
      const out = Buffer.from(b);
      out[at] = (out[at] ?? 0) ^ (1 << rng.below(8));
      return out;
    }
    case 'delete':
      return Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + rng.below(16))]);
    case 'insert':
      return Buffer.concat([b.subarray(0, at), rng.bytes(1 + rng.below(16)), b.subarray(at)]);
    case 'duplicate': {
      const end = Math.min(b.length, at + 1 + rng.below(64));
      return Buffer.concat([b.subarray(0, end), b.subarray(at, end), b.subarray(end)]);
    }
    case 'truncate':
      return b.subarray(0, at);
    case 'u32': {
      if (b.length < 4) return b;
      const out = Buffer.from(b);
      out.writeUInt32BE(rng.pick(INTERESTING_U32), Math.min(at, b.length - 4));
      return out;
    }
    case 'interesting-byte': {
      if (at >= b.length) return b;
      const out = Buffer.from(b);
      out[at] = rng.pick(INTERESTING_BYTES);
      return out;
    }
  }
}
