// v3 onion address validation (rend-spec-v3 §6 "Encoding onion addresses"; address-spec §3).
//
//   onion_address = base32(PUBKEY | CHECKSUM | VERSION) + ".onion"
//   CHECKSUM      = SHA3-256(".onion checksum" | PUBKEY | VERSION)[:2]
//
// Beyond Tor's string checks we verify the Ed25519 key itself (rend-spec-v3 §2.2.7): a key that is
// not a curve point, has small order or carries a torsion component is refused, so that no two
// different strings can name the same service and slip past a string comparison of pinned onions.
import { createHash } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';

export type OnionFailureKind =
  | 'v2'
  | 'bad-length'
  | 'bad-base32'
  | 'bad-version'
  | 'bad-checksum'
  | 'bad-key'
  | 'not-onion';

export type OnionValidation =
  | {
      readonly ok: true;
      /** The service host: 56 lower-case base32 characters + `.onion`, no subdomain, no trailing dot. */
      readonly onion: string;
      /** The service's 32-byte Ed25519 public key (a fresh copy). */
      readonly publicKey: Uint8Array;
    }
  | { readonly ok: false; readonly kind: OnionFailureKind; readonly reason: string };

const V3_LABEL_LENGTH = 56;
const V2_LABEL_LENGTH = 16;
const V3_VERSION = 3;
const PUBKEY_LENGTH = 32;
const CHECKSUM_PREFIX = Buffer.from('.onion checksum', 'latin1');
const BASE32_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
const V2_REFUSAL = 'v2 onion services no longer work in Tor';

/** base32 value of each char code, or -1. Indexed by char code < 128. */
const BASE32_VALUE: readonly number[] = Array.from({ length: 128 }, (_, code) =>
  BASE32_ALPHABET.indexOf(String.fromCharCode(code)),
);

/** True when `name` is in the special-use `.onion` domain (RFC 7686), whatever its shape. */
export function isOnionName(name: string): boolean {
  if (typeof name !== 'string') return false;
  const lower = name.toLowerCase();
  const host = lower.endsWith('.') ? lower.slice(0, -1) : lower;
  return host === 'onion' || host.endsWith('.onion');
}

/**
 * Validates a v3 onion host name, case-insensitively, with an optional trailing root dot.
 * Subdomains (`sub.<v3>.onion`, address-spec §3 "vhosting") are accepted and dropped: the result
 * is the service host. Pure and never throws. Costs about half a millisecond for a well-formed
 * v3 name (the torsion check is a full scalar multiplication); cheap checks run first.
 */
export function validateOnion(host: string): OnionValidation {
  if (typeof host !== 'string') return fail('not-onion', 'not a string');
  const lower = host.toLowerCase();
  const name = lower.endsWith('.') ? lower.slice(0, -1) : lower;
  if (!name.endsWith('.onion')) return fail('not-onion', `'${printable(host)}' does not end in .onion`);
  const labels = name.slice(0, -'.onion'.length).split('.');
  const label = labels.at(-1) ?? '';
  if (labels.some((l) => l === '')) return fail('not-onion', `'${printable(host)}' has an empty label`);
  return validateServiceLabel(label);
}

function validateServiceLabel(label: string): OnionValidation {
  const badChar = firstNonBase32(label);
  if (label.length === V2_LABEL_LENGTH && badChar < 0) return fail('v2', V2_REFUSAL);
  if (label.length !== V3_LABEL_LENGTH) {
    return fail(
      'bad-length',
      `service label has ${label.length} characters; a v3 onion has ${V3_LABEL_LENGTH}`,
    );
  }
  if (badChar >= 0) {
    return fail(
      'bad-base32',
      `character '${printable(label.charAt(badChar))}' at offset ${badChar} is not base32 (a-z, 2-7)`,
    );
  }
  const raw = decodeBase32(label);
  const publicKey = raw.subarray(0, PUBKEY_LENGTH);
  const version = raw[34];
  if (version !== V3_VERSION) return fail('bad-version', `version byte is ${version ?? '?'}, not 3`);
  const expected = checksum(publicKey, version);
  if (expected[0] !== raw[32] || expected[1] !== raw[33]) {
    return fail('bad-checksum', 'checksum mismatch: the address is mistyped or corrupted');
  }
  const keyProblem = ed25519KeyProblem(publicKey);
  if (keyProblem !== undefined) return fail('bad-key', keyProblem);
  return { ok: true, onion: `${label}.onion`, publicKey: Uint8Array.from(publicKey) };
}

const MEMO_LIMIT = 10_000;
const memo = new Map<string, OnionValidation>();

/**
 * validateOnion, remembered: the full v3 check costs up to a millisecond (the Ed25519 torsion
 * check), and the same onions come back on every SRV answer and every `.onion` recipient. Bounded;
 * the memo is dropped whole when full (a pure function's answers never go stale).
 */
export function validateOnionCached(host: string): OnionValidation {
  let v = memo.get(host);
  if (v === undefined) {
    v = validateOnion(host);
    if (memo.size >= MEMO_LIMIT) memo.clear();
    memo.set(host, v);
  }
  return v;
}

/** Encodes a 32-byte Ed25519 public key as its v3 onion host (no key checks). */
export function onionFromPublicKey(publicKey: Uint8Array): string {
  if (publicKey.length !== PUBKEY_LENGTH) throw new RangeError('an onion public key has 32 bytes');
  const raw = new Uint8Array(35);
  raw.set(publicKey, 0);
  raw.set(checksum(publicKey, V3_VERSION), 32);
  raw[34] = V3_VERSION;
  return `${encodeBase32(raw)}.onion`;
}

function ed25519KeyProblem(publicKey: Uint8Array): string | undefined {
  let point;
  try {
    point = ed25519.Point.fromBytes(publicKey);
  } catch {
    return 'the public key is not a valid Ed25519 curve point';
  }
  // isTorsionFree() is true for the identity, so the small-order check must come too.
  if (point.isSmallOrder()) return 'the public key is a small-order Ed25519 point';
  if (!point.isTorsionFree()) return 'the public key has a torsion component';
  return undefined;
}

function checksum(publicKey: Uint8Array, version: number): Uint8Array {
  return createHash('sha3-256')
    .update(CHECKSUM_PREFIX)
    .update(publicKey)
    .update(Uint8Array.of(version))
    .digest()
    .subarray(0, 2);
}

function firstNonBase32(label: string): number {
  for (let i = 0; i < label.length; i++) {
    const code = label.charCodeAt(i);
    if (code >= 128 || (BASE32_VALUE[code] ?? -1) < 0) return i;
  }
  return -1;
}

/** Decodes base32 text already checked by firstNonBase32, whose length is a multiple of 8. */
function decodeBase32(text: string): Uint8Array {
  const out = new Uint8Array((text.length * 5) / 8);
  let buffer = 0;
  let bits = 0;
  let index = 0;
  for (let i = 0; i < text.length; i++) {
    buffer = ((buffer << 5) | (BASE32_VALUE[text.charCodeAt(i)] ?? 0)) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[index++] = (buffer >> bits) & 0xff;
    }
  }
  return out;
}

function encodeBase32(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = ((buffer << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += BASE32_ALPHABET.charAt((buffer >> bits) & 31);
    }
  }
  if (bits > 0) out += BASE32_ALPHABET.charAt((buffer << (5 - bits)) & 31);
  return out;
}

/** Keeps hostile input out of log lines: control characters escaped, length capped. */
function printable(text: string): string {
  const capped = text.length > 80 ? `${text.slice(0, 77)}...` : text;
  return JSON.stringify(capped).slice(1, -1);
}

function fail(kind: OnionFailureKind, reason: string): OnionValidation {
  return { ok: false, kind, reason };
}
