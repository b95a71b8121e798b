// MTA -> filter: every SMFIC_* packet decoded into a typed command. Pure: bytes in, values out.
import { ErrorCode, ProtocolError } from '../../errors.ts';
import type { ConnectInfo } from '../types.ts';
import { Cmd, Family } from './constants.ts';
import { Reader } from './reader.ts';
import { decodeText } from './text.ts';

export type Command =
  | { readonly kind: 'optneg'; readonly version: number; readonly actions: number; readonly protocol: number }
  /** `stage` is the command character the macros belong to ('C', 'H', ... or Postfix's 'L', 'B', 'U'). */
  | { readonly kind: 'macro'; readonly stage: string; readonly macros: readonly (readonly [string, string])[] }
  | { readonly kind: 'connect'; readonly info: ConnectInfo }
  | { readonly kind: 'helo'; readonly name: string }
  /** `address` as sent (with or without <>); `args` are the ESMTP parameters, one string each. */
  | { readonly kind: 'mail'; readonly address: string; readonly args: readonly string[] }
  | { readonly kind: 'rcpt'; readonly address: string; readonly args: readonly string[] }
  | { readonly kind: 'data' }
  | { readonly kind: 'header'; readonly name: string; readonly value: string }
  | { readonly kind: 'endOfHeaders' }
  | { readonly kind: 'body'; readonly chunk: Buffer }
  /** libmilter treats data in SMFIC_BODYEOB as a final body chunk. */
  | { readonly kind: 'endOfMessage'; readonly chunk: Buffer | undefined }
  | { readonly kind: 'unknown'; readonly line: string }
  | { readonly kind: 'abort' }
  | { readonly kind: 'quit' }
  | { readonly kind: 'quitNewConnection' };

export type CommandKind = Command['kind'];

type Decoder = (r: Reader, payload: Buffer) => Command;

const none =
  (kind: 'data' | 'endOfHeaders' | 'abort' | 'quit' | 'quitNewConnection'): Decoder =>
  (r) => {
    r.end();
    return { kind };
  };

const DECODERS: Readonly<Record<number, readonly [string, Decoder]>> = {
  [Cmd.optneg]: ['SMFIC_OPTNEG', decodeOptneg],
  [Cmd.macro]: ['SMFIC_MACRO', decodeMacro],
  [Cmd.connect]: ['SMFIC_CONNECT', decodeConnect],
  [Cmd.helo]: ['SMFIC_HELO', (r) => ({ kind: 'helo', name: lastString(r, 'helo name') })],
  [Cmd.mail]: ['SMFIC_MAIL', (r, p) => decodeEnvelope('mail', r, p)],
  [Cmd.rcpt]: ['SMFIC_RCPT', (r, p) => decodeEnvelope('rcpt', r, p)],
  [Cmd.data]: ['SMFIC_DATA', none('data')],
  [Cmd.header]: ['SMFIC_HEADER', decodeHeader],
  [Cmd.endOfHeaders]: ['SMFIC_EOH', none('endOfHeaders')],
  [Cmd.body]: ['SMFIC_BODY', (r) => ({ kind: 'body', chunk: r.rest() })],
  [Cmd.endOfMessage]: ['SMFIC_BODYEOB', (r) => ({ kind: 'endOfMessage', chunk: r.remaining > 0 ? r.rest() : undefined })],
  [Cmd.unknown]: ['SMFIC_UNKNOWN', (_r, p) => ({ kind: 'unknown', line: looseStrings(p)[0] ?? '' })],
  [Cmd.abort]: ['SMFIC_ABORT', none('abort')],
  [Cmd.quit]: ['SMFIC_QUIT', none('quit')],
  [Cmd.quitNewConnection]: ['SMFIC_QUIT_NC', none('quitNewConnection')],
};

/** libmilter's name for a command byte, for logs; `0x..` when unknown. */
export function commandName(code: number): string {
  return DECODERS[code]?.[0] ?? `0x${code.toString(16).padStart(2, '0')}`;
}

/** Decodes one packet. Throws ProtocolError (with the command name and offset) on malformed data. */
export function decodeCommand(code: number, payload: Buffer): Command {
  const entry = DECODERS[code];
  if (entry === undefined) {
    throw new ProtocolError(ErrorCode.MilterUnknownCommand, `unknown command byte ${commandName(code)}`);
  }
  return entry[1](new Reader(payload, entry[0]), payload);
}

function decodeOptneg(r: Reader): Command {
  if (r.remaining < 12) {
    throw new ProtocolError(ErrorCode.MilterTruncated, `SMFIC_OPTNEG: ${r.remaining} data bytes, at least 12 needed`);
  }
  // Longer packets are accepted: later fields (MDS bits in some builds) are not ours to judge.
  return { kind: 'optneg', version: r.u32(), actions: r.u32(), protocol: r.u32() };
}

function decodeMacro(r: Reader, payload: Buffer): Command {
  if (payload.length === 0) throw new ProtocolError(ErrorCode.MilterBadCommand, 'SMFIC_MACRO: no stage byte');
  const stage = String.fromCharCode(r.u8());
  const strings = looseStrings(payload.subarray(1));
  const macros: (readonly [string, string])[] = [];
  // An odd count leaves the last name without a value (libmilter: NULL); it is dropped.
  for (let i = 0; i + 1 < strings.length; i += 2) macros.push([strings[i] ?? '', strings[i + 1] ?? '']);
  return { kind: 'macro', stage, macros };
}

function decodeConnect(r: Reader): Command {
  const hostname = r.cstring('hostname');
  const familyAt = r.position;
  const family = r.u8();
  if (family === Family.unknown) {
    r.end();
    return { kind: 'connect', info: { family: 'unknown', hostname } };
  }
  const port = r.u16();
  const address = lastString(r, 'address');
  switch (family) {
    case Family.unix:
      return { kind: 'connect', info: { family: 'unix', hostname, path: address } };
    case Family.inet:
      return { kind: 'connect', info: { family: 'inet', hostname, address: stripBrackets(address), port } };
    case Family.inet6:
      return { kind: 'connect', info: { family: 'inet6', hostname, address: stripIpv6Prefix(address), port } };
    default:
      throw new ProtocolError(
        ErrorCode.MilterBadCommand,
        `SMFIC_CONNECT: unknown address family 0x${family.toString(16)} at offset ${familyAt}`,
      );
  }
}

function decodeEnvelope(kind: 'mail' | 'rcpt', _r: Reader, payload: Buffer): Command {
  // libmilter NUL-terminates every packet it reads, so a missing final NUL is tolerated here.
  const strings = looseStrings(payload);
  const address = strings[0];
  if (address === undefined) {
    const name = kind === 'mail' ? 'SMFIC_MAIL' : 'SMFIC_RCPT';
    throw new ProtocolError(ErrorCode.MilterBadCommand, `${name}: no address`);
  }
  return { kind, address, args: strings.slice(1) };
}

function decodeHeader(r: Reader): Command {
  const name = r.cstring('header name');
  const value = lastString(r, 'header value');
  return { kind: 'header', name, value };
}

/** A NUL-terminated string that must end the packet. */
function lastString(r: Reader, field: string): string {
  const s = r.cstring(field);
  r.end();
  return s;
}

/** Splits on NUL; a final string without its NUL is still returned. */
function looseStrings(b: Buffer): string[] {
  const out: string[] = [];
  let pos = 0;
  while (pos < b.length) {
    let end = b.indexOf(0, pos);
    if (end < 0) end = b.length;
    out.push(decodeText(b, pos, end));
    pos = end + 1;
  }
  return out;
}

function stripIpv6Prefix(address: string): string {
  const bare = address.toLowerCase().startsWith('ipv6:') ? address.slice(5) : address;
  return stripBrackets(bare);
}

function stripBrackets(address: string): string {
  return address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
}
