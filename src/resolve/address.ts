// Recipient parsing and domain normalisation. Pure, never throws: every input (a bare domain or
// an address as an MTA hands it over) yields a normalised domain or a reason naming the offset.
//
// The normal form of a domain is lower-case A-labels (IDNA via WHATWG `domainToASCII`), no
// trailing dot, LDH labels of 1-63 octets, at most 253 octets in total (RFC 1035 §2.3.4,
// RFC 5890). `_` is refused: mail domains are host names (RFC 952/1123), not SRV owner names.
import { domainToASCII } from 'node:url';

export type DomainFailureKind =
  | 'empty'
  | 'too-long'
  | 'bad-label'
  | 'bad-character'
  | 'numeric-tld'
  | 'bad-idn';

export type DomainCheck =
  | { readonly ok: true; readonly domain: string }
  | { readonly ok: false; readonly kind: DomainFailureKind; readonly reason: string };

export type RecipientFailureKind = 'empty' | 'syntax' | 'ip-literal' | 'bad-domain' | 'too-long';

export type RecipientParse =
  | {
      readonly ok: true;
      /** The normalised recipient domain. */
      readonly domain: string;
      /** The local part as written (quotes kept); absent when the input was a bare domain. */
      readonly localPart?: string;
      /** Hops of an RFC 5321 §4.1.2 source route (`@a,@b:user@dom`); ignored for routing. */
      readonly sourceRoute?: readonly string[];
    }
  | { readonly ok: false; readonly kind: RecipientFailureKind; readonly reason: string };

const MAX_DOMAIN_LENGTH = 253;
const MAX_LABEL_LENGTH = 63;
/** RFC 5321 §4.5.3.1.3 limits a path to 256 octets; allow slack for quoting and whitespace. */
const MAX_INPUT_LENGTH = 1024;

const CODE_DOT = 0x2e;
const CODE_HYPHEN = 0x2d;

/**
 * Normalises a domain name: lower case, IDN U-labels to A-labels, one trailing root dot removed.
 * Already-normalised ASCII (the common case) is checked in one pass without allocation.
 */
export function normaliseDomain(name: string): DomainCheck {
  if (typeof name !== 'string') return domainFail('empty', 'not a string');
  const shape = scanAscii(name);
  if (shape === 'normal') return checkLabels(name);
  let ascii: string;
  if (shape === 'non-ascii') {
    const bad = firstUnsafeForIdna(name);
    if (bad >= 0) return badCharacter(name, bad);
    ascii = domainToASCII(name);
    if (ascii === '') return domainFail('bad-idn', `'${printable(name)}' is not a valid internationalised domain name`);
  } else {
    ascii = name.toLowerCase();
  }
  const domain = ascii.endsWith('.') ? ascii.slice(0, -1) : ascii;
  return checkLabels(domain);
}

/**
 * Parses a recipient given as a bare domain, `user@domain`, `<user@domain>`, a quoted local part
 * (`"a@b"@example.org`: the domain follows the last unquoted `@`) or a source route
 * (`<@a,@b:user@example.org>`: the final domain counts). Address literals (`[192.0.2.1]`,
 * `[IPv6:…]`) have no domain to route and are refused with kind `ip-literal`.
 */
export function parseRecipient(input: string): RecipientParse {
  if (typeof input !== 'string') return recipientFail('empty', 'not a string');
  if (input.length > MAX_INPUT_LENGTH) {
    return recipientFail('too-long', `input is ${input.length} characters; at most ${MAX_INPUT_LENGTH} accepted`);
  }
  let text = input.trim();
  if (text.startsWith('<')) {
    if (!text.endsWith('>')) return recipientFail('syntax', `'<' at offset 0 has no closing '>'`);
    text = text.slice(1, -1).trim();
  } else if (text.endsWith('>')) {
    return recipientFail('syntax', `'>' at offset ${text.length - 1} has no opening '<'`);
  }
  if (text === '') return recipientFail('empty', 'empty address');

  let sourceRoute: string[] | undefined;
  if (text.startsWith('@')) {
    const route = splitSourceRoute(text);
    if (!route.ok) return route;
    sourceRoute = route.hops;
    text = route.mailbox;
  }
  const split = splitMailbox(text);
  if (!split.ok) return split;
  if (split.localPart === undefined) {
    if (sourceRoute !== undefined) return recipientFail('syntax', 'a source route must end in a mailbox');
    return domainResult(split.domainPart, undefined, undefined);
  }
  return domainResult(split.domainPart, split.localPart, sourceRoute);
}

function domainResult(
  domainPart: string,
  localPart: string | undefined,
  sourceRoute: readonly string[] | undefined,
): RecipientParse {
  if (domainPart.startsWith('[')) {
    return recipientFail('ip-literal', `address literal '${printable(domainPart)}' names no domain to route`);
  }
  if (/^\d+(\.\d+){3}\.?$/.test(domainPart)) {
    return recipientFail('ip-literal', `'${domainPart}' is an IPv4 address, not a domain`);
  }
  const checked = normaliseDomain(domainPart);
  if (!checked.ok) return recipientFail('bad-domain', checked.reason);
  return {
    ok: true,
    domain: checked.domain,
    ...(localPart === undefined ? {} : { localPart }),
    ...(sourceRoute === undefined ? {} : { sourceRoute }),
  };
}

type RouteSplit =
  | { readonly ok: true; readonly hops: string[]; readonly mailbox: string }
  | Extract<RecipientParse, { ok: false }>;

function splitSourceRoute(text: string): RouteSplit {
  const colon = text.indexOf(':');
  if (colon < 0) return recipientFail('syntax', `source route starting at offset 0 has no ':'`);
  const hops: string[] = [];
  let offset = 0;
  for (const hop of text.slice(0, colon).split(',')) {
    const trimmed = hop.trim();
    if (!trimmed.startsWith('@') || trimmed.length === 1) {
      return recipientFail('syntax', `source route hop '${printable(trimmed)}' at offset ${offset} is not '@domain'`);
    }
    hops.push(trimmed.slice(1));
    offset += hop.length + 1;
  }
  return { ok: true, hops, mailbox: text.slice(colon + 1).trim() };
}

type MailboxSplit =
  | { readonly ok: true; readonly localPart: string | undefined; readonly domainPart: string }
  | Extract<RecipientParse, { ok: false }>;

/** Finds the last `@` outside quoted strings (RFC 5321 §4.1.2 Quoted-string, with quoted-pairs). */
function splitMailbox(text: string): MailboxSplit {
  let isQuoted = false;
  let quoteStart = -1;
  let lastAt = -1;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (isQuoted) {
      if (char === '\\') i++;
      else if (char === '"') isQuoted = false;
    } else if (char === '"') {
      isQuoted = true;
      quoteStart = i;
    } else if (char === '@') {
      lastAt = i;
    }
  }
  if (isQuoted) return recipientFail('syntax', `quoted string at offset ${quoteStart} is not closed`);
  if (lastAt < 0) {
    if (quoteStart >= 0) return recipientFail('syntax', `quoted local part at offset ${quoteStart} has no '@domain'`);
    return { ok: true, localPart: undefined, domainPart: text };
  }
  const localPart = text.slice(0, lastAt);
  const problem = localPartProblem(localPart);
  if (problem !== undefined) return recipientFail('syntax', problem);
  return { ok: true, localPart, domainPart: text.slice(lastAt + 1) };
}

/** Liberal on purpose: the resolver routes by domain; it only refuses what cannot be a local part. */
function localPartProblem(localPart: string): string | undefined {
  if (localPart === '') return 'empty local part before @';
  let isQuoted = false;
  for (let i = 0; i < localPart.length; i++) {
    const char = localPart.charAt(i);
    const code = localPart.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return `control character in local part at offset ${i}`;
    if (isQuoted) {
      if (char === '\\') i++;
      else if (char === '"') isQuoted = false;
    } else if (char === '"') {
      isQuoted = true;
    } else if (' <>()[],;:@\\'.includes(char)) {
      return `'${char}' at offset ${i} must be quoted in a local part`;
    }
  }
  return undefined;
}

type AsciiShape = 'normal' | 'ascii' | 'non-ascii';

/** `normal`: lower-case LDH and dots, no trailing dot; `ascii`: any other ASCII; `non-ascii`. */
function scanAscii(name: string): AsciiShape {
  let shape: AsciiShape = 'normal';
  for (let i = 0; i < name.length; i++) {
    const code = name.charCodeAt(i);
    if (code >= 0x80) return 'non-ascii';
    if (!isLowerLdh(code) && code !== CODE_DOT) shape = 'ascii';
  }
  return shape === 'normal' && name.endsWith('.') ? 'ascii' : shape;
}

function isLowerLdh(code: number): boolean {
  return (code >= 0x61 && code <= 0x7a) || (code >= 0x30 && code <= 0x39) || code === CODE_HYPHEN;
}

/** `domainToASCII` percent-decodes and parses IPv4 forms, so only LDH, dots and non-ASCII may reach it. */
function firstUnsafeForIdna(name: string): number {
  for (let i = 0; i < name.length; i++) {
    const code = name.charCodeAt(i);
    if (code >= 0x80) {
      if (code <= 0x9f || code === 0xa0) return i;
      continue;
    }
    if (!isLowerLdh(code) && code !== CODE_DOT && !(code >= 0x41 && code <= 0x5a)) return i;
  }
  return -1;
}

/** Label rules on a lower-case ASCII name without a trailing dot; one pass, no allocation. */
function checkLabels(domain: string): DomainCheck {
  if (domain.length === 0) return domainFail('empty', 'empty domain');
  if (domain.length > MAX_DOMAIN_LENGTH) {
    return domainFail('too-long', `domain has ${domain.length} characters; at most ${MAX_DOMAIN_LENGTH} allowed`);
  }
  let labelStart = 0;
  let isNumericLabel = true;
  let hasIdnLabel = false;
  for (let i = 0; i <= domain.length; i++) {
    const code = i < domain.length ? domain.charCodeAt(i) : CODE_DOT;
    if (code !== CODE_DOT) {
      if (!isLowerLdh(code)) return badCharacter(domain, i);
      if (code < 0x30 || code > 0x39) isNumericLabel = false;
      continue;
    }
    const problem = labelProblem(domain, labelStart, i);
    if (problem !== undefined) return domainFail('bad-label', problem);
    if (domain.startsWith('xn--', labelStart)) hasIdnLabel = true;
    if (i === domain.length && isNumericLabel) {
      return domainFail('numeric-tld', `top-level label '${domain.slice(labelStart)}' is all digits: an IP address is not a domain`);
    }
    labelStart = i + 1;
    isNumericLabel = true;
  }
  if (hasIdnLabel && domainToASCII(domain) !== domain) {
    return domainFail('bad-idn', `'${domain}' contains an invalid A-label (xn--)`);
  }
  return { ok: true, domain };
}

function labelProblem(domain: string, start: number, end: number): string | undefined {
  const length = end - start;
  if (length === 0) return `empty label at offset ${start}`;
  if (length > MAX_LABEL_LENGTH) {
    return `label at offset ${start} has ${length} characters; at most ${MAX_LABEL_LENGTH} allowed`;
  }
  if (domain.charCodeAt(start) === CODE_HYPHEN || domain.charCodeAt(end - 1) === CODE_HYPHEN) {
    return `label '${domain.slice(start, end)}' at offset ${start} starts or ends with '-'`;
  }
  return undefined;
}

function badCharacter(name: string, index: number): DomainCheck {
  const char = printable(name.charAt(index));
  const reason =
    char === '_'
      ? `'_' at offset ${index} is not allowed in a host name`
      : `character '${char}' at offset ${index} is not allowed in a domain`;
  return domainFail('bad-character', reason);
}

function printable(text: string): string {
  const capped = text.length > 80 ? `${text.slice(0, 77)}...` : text;
  return JSON.stringify(capped).slice(1, -1);
}

function domainFail(kind: DomainFailureKind, reason: string): DomainCheck {
  return { ok: false, kind, reason };
}

function recipientFail(kind: RecipientFailureKind, reason: string): Extract<RecipientParse, { ok: false }> {
  return { ok: false, kind, reason };
}
