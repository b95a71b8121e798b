// Query-name checks and 0x20 case randomisation (draft-vixie-dnsext-dns0x20). Pure functions.

/** Why a name may not be sent to DNS. */
export type QueryNameProblem = 'empty' | 'too-long' | 'bad-label' | 'onion';

export type QueryNameCheck =
  | { readonly ok: true; readonly name: string }
  | { readonly ok: false; readonly problem: QueryNameProblem; readonly detail: string };

const LABEL = /^[\x21-\x7e]{1,63}$/;

/**
 * Normalises a query name (one trailing root dot dropped) and refuses what must never reach DNS:
 * empty names, names over 253 octets (RFC 1035 §2.3.4), empty or non-printable-ASCII labels
 * (IDNs must arrive as A-labels) and, above all, `.onion` names (RFC 7686 §2: they would leak).
 */
export function checkQueryName(input: string): QueryNameCheck {
  const name = input.endsWith('.') ? input.slice(0, -1) : input;
  if (name.length === 0) return { ok: false, problem: 'empty', detail: 'empty query name' };
  if (name.length > 253) return { ok: false, problem: 'too-long', detail: `query name is ${name.length} octets (max 253)` };
  const labels = name.split('.');
  for (let i = 0; i < labels.length; i++) {
    if (!LABEL.test(labels[i] ?? '')) {
      return { ok: false, problem: 'bad-label', detail: `label ${i + 1} of ${JSON.stringify(input)} is empty, over 63 octets or not printable ASCII` };
    }
  }
  if (labels[labels.length - 1]?.toLowerCase() === 'onion') {
    return { ok: false, problem: 'onion', detail: `refusing to send the .onion name ${JSON.stringify(input)} to DNS (RFC 7686)` };
  }
  return { ok: true, name };
}

/**
 * Flips the case of each ASCII letter by one random bit each, so that an off-path spoofer must
 * also guess the case pattern; a server that echoes the question proves it saw our query.
 */
export function randomizeCase(name: string, randomBytes: (size: number) => Uint8Array): string {
  const bits = randomBytes(Math.ceil(name.length / 8) || 1);
  let out = '';
  for (let i = 0; i < name.length; i++) {
    const ch = name.charAt(i);
    const isUpper = (((bits[i >> 3] ?? 0) >> (i & 7)) & 1) === 1;
    out += isUpper ? ch.toUpperCase() : ch.toLowerCase();
  }
  return out;
}

/** ASCII-only case folding for DNS name comparison (RFC 4343): never locale-dependent. */
export function foldCase(name: string): string {
  return name.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) | 0x20));
}

/** Compares two names case-insensitively, ignoring one trailing root dot on either side. */
export function sameName(a: string, b: string): boolean {
  return foldCase(stripRoot(a)) === foldCase(stripRoot(b));
}

function stripRoot(name: string): string {
  return name.length > 1 && name.endsWith('.') ? name.slice(0, -1) : name;
}
