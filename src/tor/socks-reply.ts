// SOCKS5 reply codes as Tor sends them (RFC 1928 §6 plus Tor's ExtendedErrors 0xF0-0xF7), what
// each means in words, and whether waiting can heal it. Pure: no I/O.

export interface SocksReplyInfo {
  /** Two hex digits, upper case: `F2`, `06`. */
  readonly code: string;
  readonly words: string;
  /**
   * True when retrying later will not help without someone changing something: client
   * authorization (F4, F5) or a malformed onion address (F6). Everything else is temporary.
   */
  readonly permanent: boolean;
}

const REPLIES: Readonly<Record<number, { readonly words: string; readonly permanent: boolean }>> = {
  0x00: { words: 'succeeded', permanent: false },
  0x01: { words: 'general SOCKS server failure', permanent: false },
  0x02: { words: 'connection not allowed by the SocksPort policy', permanent: false },
  0x03: { words: 'network unreachable', permanent: false },
  0x04: { words: 'host unreachable (Tor could not resolve or reach it)', permanent: false },
  0x05: { words: 'connection refused (the service is up but does not accept this port)', permanent: false },
  0x06: { words: 'TTL expired (Tor gave up: the connection timed out)', permanent: false },
  0x07: { words: 'command not supported', permanent: false },
  0x08: { words: 'address type not supported', permanent: false },
  0xf0: { words: 'onion service descriptor cannot be found (service offline or not yet published)', permanent: false },
  0xf1: { words: 'onion service descriptor is invalid', permanent: false },
  0xf2: { words: 'onion service introduction failed', permanent: false },
  0xf3: { words: 'onion service rendezvous failed', permanent: false },
  0xf4: { words: 'onion service requires client authorization, none configured', permanent: true },
  0xf5: { words: 'onion service client authorization was rejected (wrong or revoked key)', permanent: true },
  0xf6: { words: 'invalid onion address (bad checksum, key or encoding)', permanent: true },
  0xf7: { words: 'onion service introduction timed out', permanent: false },
};

export function socksReplyInfo(rep: number): SocksReplyInfo {
  const code = rep.toString(16).toUpperCase().padStart(2, '0');
  const known = REPLIES[rep];
  return known === undefined ? { code, words: `unknown SOCKS reply code 0x${code}`, permanent: false } : { code, ...known };
}

/** Where a SOCKS5 exchange stands, read from every byte the proxy sent so far. */
export type SocksServerBytes =
  | { readonly stage: 'incomplete' }
  | { readonly stage: 'no-acceptable-method' }
  | { readonly stage: 'auth-failed'; readonly status: number }
  | { readonly stage: 'reply'; readonly rep: number }
  | { readonly stage: 'malformed'; readonly detail: string };

/**
 * Reads the proxy's side of a SOCKS5 CONNECT: method selection (`05 MM`), for method 0x02 the
 * RFC 1929 status (`01 SS`), then the reply header (`05 REP 00 ...`). Only the REP byte matters
 * here; the bound address after it is ignored.
 */
export function readSocksServerBytes(bytes: Uint8Array): SocksServerBytes {
  if (bytes.length < 2) return { stage: 'incomplete' };
  if (bytes[0] !== 0x05) return { stage: 'malformed', detail: `method selection starts with 0x${hex(bytes[0])}, not SOCKS version 5` };
  const method = bytes[1] ?? 0;
  if (method === 0xff) return { stage: 'no-acceptable-method' };
  let offset = 2;
  if (method === 0x02) {
    if (bytes.length < 4) return { stage: 'incomplete' };
    const status = bytes[3] ?? 0;
    if (status !== 0x00) return { stage: 'auth-failed', status };
    offset = 4;
  } else if (method !== 0x00) {
    return { stage: 'malformed', detail: `proxy selected unsupported method 0x${hex(method)}` };
  }
  if (bytes.length < offset + 2) return { stage: 'incomplete' };
  if (bytes[offset] !== 0x05) return { stage: 'malformed', detail: `reply starts with 0x${hex(bytes[offset])}, not SOCKS version 5` };
  return { stage: 'reply', rep: bytes[offset + 1] ?? 0 };
}

function hex(b: number | undefined): string {
  return (b ?? 0).toString(16).padStart(2, '0');
}
