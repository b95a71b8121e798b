// Command lines of the relay's LMTP and SMTP listeners -> typed commands or the reply that refuses
// them (RFC 5321 §4.1, RFC 2033 §4.1, Postfix's XFORWARD). Only syntax is checked here; what a
// command means in the session's state (and the ESMTP parameters' values) is the session's and
// params.ts's business. Pure.
import type { SmtpReply } from '../envelope.ts';
import { ownReply } from './reply.ts';

export interface EsmtpParam {
  /** Upper case. */
  readonly keyword: string;
  readonly value: string | undefined;
}

export type Command =
  | { readonly verb: 'LHLO' | 'EHLO' | 'HELO'; readonly domain: string }
  /** `path` is what stood between the angle brackets, `` for `<>`. */
  | { readonly verb: 'MAIL' | 'RCPT'; readonly path: string; readonly params: readonly EsmtpParam[] }
  | { readonly verb: 'DATA' | 'RSET' | 'QUIT' | 'NOOP' | 'HELP' }
  | { readonly verb: 'VRFY'; readonly argument: string }
  /** Attribute names upper case, values xtext-decoded. */
  | { readonly verb: 'XFORWARD'; readonly attributes: ReadonlyMap<string, string> };

export type Verb = Command['verb'];

export type CommandParse = { readonly ok: true; readonly command: Command } | { readonly ok: false; readonly reply: SmtpReply };

/** XFORWARD attributes we accept (we advertise NAME ADDR PROTO HELO IDENT; Postfix may also send PORT and SOURCE). */
export const XFORWARD_ATTRIBUTES: readonly string[] = ['NAME', 'ADDR', 'PORT', 'PROTO', 'HELO', 'IDENT', 'SOURCE'];

/** Commands some clients know that this relay does not offer. */
const NOT_IMPLEMENTED = new Set(['STARTTLS', 'BDAT', 'AUTH', 'EXPN', 'ETRN', 'TURN', 'ATRN', 'XCLIENT', 'SEND', 'SOML', 'SAML']);
const NO_ARGUMENT = new Set(['DATA', 'RSET', 'QUIT']);

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function parseCommandLine(bytes: Uint8Array): CommandParse {
  let line: string;
  try {
    line = utf8.decode(bytes);
  } catch {
    return refuse(500, '5.5.2', 'Command line is not valid UTF-8');
  }
  const space = line.indexOf(' ');
  const verb = (space < 0 ? line : line.slice(0, space)).toUpperCase();
  const argument = space < 0 ? '' : line.slice(space + 1);
  if (NO_ARGUMENT.has(verb)) {
    if (argument.trim() !== '') return refuse(501, '5.5.4', `Syntax: ${verb} takes no argument`);
    return { ok: true, command: { verb: verb as 'DATA' | 'RSET' | 'QUIT' } };
  }
  switch (verb) {
    case 'LHLO':
    case 'EHLO':
    case 'HELO': {
      const domain = argument.trim();
      if (domain === '' || /\s/.test(domain)) return refuse(501, '5.5.4', `Syntax: ${verb} hostname`);
      return { ok: true, command: { verb, domain } };
    }
    case 'MAIL':
      return pathCommand('MAIL', 'FROM:', argument);
    case 'RCPT':
      return pathCommand('RCPT', 'TO:', argument);
    case 'NOOP':
    case 'HELP':
      return { ok: true, command: { verb } };
    case 'VRFY':
      if (argument.trim() === '') return refuse(501, '5.5.4', 'Syntax: VRFY address');
      return { ok: true, command: { verb, argument: argument.trim() } };
    case 'XFORWARD':
      return xforward(argument);
    default:
      if (NOT_IMPLEMENTED.has(verb)) return refuse(502, '5.5.1', `${verb} is not offered by this relay`);
      return refuse(500, '5.5.1', 'Command not recognized');
  }
}

function pathCommand(verb: 'MAIL' | 'RCPT', keyword: string, argument: string): CommandParse {
  const syntax = verb === 'MAIL' ? 'Syntax: MAIL FROM:<address> [parameters]' : 'Syntax: RCPT TO:<address> [parameters]';
  if (argument.slice(0, keyword.length).toUpperCase() !== keyword) return refuse(501, '5.5.4', syntax);
  // RFC 5321 has no space after the colon; MTAs and people write one anyway.
  const rest = argument.slice(keyword.length).replace(/^ +/, '');
  const split = splitPath(rest);
  if (!split.ok) return refuse(501, verb === 'MAIL' ? '5.1.7' : '5.1.3', `Bad ${verb === 'MAIL' ? 'sender' : 'recipient'} address syntax: ${split.reason}`);
  const params = parseParams(split.after);
  if (!params.ok) return refuse(501, '5.5.4', params.reason);
  return { ok: true, command: { verb, path: split.path, params: params.params } };
}

type PathSplit = { readonly ok: true; readonly path: string; readonly after: string } | { readonly ok: false; readonly reason: string };

/** `<path> rest`: finds the `>` that closes the path, skipping quoted strings (RFC 5321 §4.1.2). */
export function splitPath(text: string): PathSplit {
  if (!text.startsWith('<')) return { ok: false, reason: 'the address must be enclosed in <>' };
  let quoted = false;
  for (let i = 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return { ok: false, reason: `control character at offset ${i}` };
    if (quoted) {
      if (c === 0x5c) i++;
      else if (c === 0x22) quoted = false;
      continue;
    }
    if (c === 0x22) quoted = true;
    else if (c === 0x20) return { ok: false, reason: `space at offset ${i} outside a quoted string` };
    else if (c === 0x3c) return { ok: false, reason: `'<' at offset ${i} inside the address` };
    else if (c === 0x3e) {
      const after = text.slice(i + 1);
      if (after !== '' && !after.startsWith(' ')) return { ok: false, reason: `'${after.charAt(0)}' after '>' (parameters are separated by a space)` };
      return { ok: true, path: text.slice(1, i), after };
    }
  }
  return { ok: false, reason: quoted ? 'quoted string is not closed' : "no closing '>'" };
}

type ParamsParse = { readonly ok: true; readonly params: readonly EsmtpParam[] } | { readonly ok: false; readonly reason: string };

/** ` KEY=VALUE KEY2` (RFC 5321 §4.1.2 esmtp-param); keywords upper-cased, each at most once. */
function parseParams(text: string): ParamsParse {
  const params: EsmtpParam[] = [];
  const seen = new Set<string>();
  for (const word of text.split(' ')) {
    if (word === '') continue;
    const eq = word.indexOf('=');
    const keyword = (eq < 0 ? word : word.slice(0, eq)).toUpperCase();
    const value = eq < 0 ? undefined : word.slice(eq + 1);
    if (!/^[A-Z0-9][A-Z0-9-]*$/.test(keyword)) return { ok: false, reason: `Bad parameter keyword '${keyword.slice(0, 40)}'` };
    if (value !== undefined && (value === '' || value.includes('='))) return { ok: false, reason: `Bad value for parameter ${keyword}` };
    if (seen.has(keyword)) return { ok: false, reason: `Parameter ${keyword} given twice` };
    seen.add(keyword);
    params.push({ keyword, value });
  }
  return { ok: true, params };
}

function xforward(argument: string): CommandParse {
  const attributes = new Map<string, string>();
  const words = argument.split(' ').filter((w) => w !== '');
  if (words.length === 0) return refuse(501, '5.5.4', 'Syntax: XFORWARD attribute=value...');
  for (const word of words) {
    const eq = word.indexOf('=');
    const name = (eq < 0 ? word : word.slice(0, eq)).toUpperCase();
    if (eq < 0) return refuse(501, '5.5.4', `Syntax: XFORWARD ${name.slice(0, 40)}=value`);
    if (!XFORWARD_ATTRIBUTES.includes(name)) return refuse(501, '5.5.4', `Bad XFORWARD attribute name: ${name.slice(0, 40)}`);
    const value = decodeXtext(word.slice(eq + 1));
    if (value === undefined) return refuse(501, '5.5.4', `Bad XFORWARD attribute value for ${name}`);
    attributes.set(name, value);
  }
  return { ok: true, command: { verb: 'XFORWARD', attributes } };
}

/** RFC 3461 §4 xtext: printable ASCII except `+` and `=`, and `+XX` (upper-case hex) for any octet. */
export function isXtext(text: string): boolean {
  return /^(?:[!-*,-<>-~]|\+[0-9A-F]{2})*$/.test(text);
}

export function decodeXtext(text: string): string | undefined {
  if (!isXtext(text)) return undefined;
  return text.replace(/\+([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

function refuse(code: number, enhanced: string, text: string): CommandParse {
  return { ok: false, reply: ownReply(code, enhanced, text) };
}
