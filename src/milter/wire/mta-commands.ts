// MTA -> filter encoders: the client side of the protocol (used by tests, tools and the benchmark).
import { Cmd, Family } from './constants.ts';
import { emptyPacket, PacketWriter } from './writer.ts';

export type ConnectFamily = 'inet' | 'inet6' | 'unix' | 'unknown';

const FAMILY_BYTE: Readonly<Record<ConnectFamily, number>> = {
  inet: Family.inet,
  inet6: Family.inet6,
  unix: Family.unix,
  unknown: Family.unknown,
};

export function encodeOptneg(version: number, actions: number, protocol: number): Buffer {
  return new PacketWriter(Cmd.optneg).u32(version).u32(actions).u32(protocol).finish();
}

/** `stage` is the command character ('C', 'H', 'M', 'R', 'T', 'N', 'E', or Postfix's 'L', 'B', 'U'). */
export function encodeMacro(stage: string, pairs: Iterable<readonly [string, string]>): Buffer {
  const w = new PacketWriter(Cmd.macro).u8(stage.charCodeAt(0));
  for (const [name, value] of pairs) w.cstring(name).cstring(value);
  return w.finish();
}

export function encodeConnect(hostname: string, family: ConnectFamily, port = 0, address = ''): Buffer {
  const w = new PacketWriter(Cmd.connect).cstring(hostname).u8(FAMILY_BYTE[family]);
  if (family !== 'unknown') w.u16(port).cstring(address);
  return w.finish();
}

export function encodeHelo(name: string): Buffer {
  return new PacketWriter(Cmd.helo).cstring(name).finish();
}

function envelope(code: number, address: string, args: readonly string[]): Buffer {
  const w = new PacketWriter(code).cstring(address);
  for (const a of args) w.cstring(a);
  return w.finish();
}

export function encodeMail(address: string, args: readonly string[] = []): Buffer {
  return envelope(Cmd.mail, address, args);
}

export function encodeRcpt(address: string, args: readonly string[] = []): Buffer {
  return envelope(Cmd.rcpt, address, args);
}

export function encodeHeader(name: string, value: string): Buffer {
  return new PacketWriter(Cmd.header).cstring(name).cstring(value).finish();
}

export function encodeBody(chunk: Uint8Array): Buffer {
  return new PacketWriter(Cmd.body).bytes(chunk).finish();
}

export function encodeEndOfMessage(chunk?: Uint8Array): Buffer {
  return chunk === undefined || chunk.length === 0 ? END_OF_MESSAGE : new PacketWriter(Cmd.endOfMessage).bytes(chunk).finish();
}

export function encodeUnknown(line: string): Buffer {
  return new PacketWriter(Cmd.unknown).cstring(line).finish();
}

export const DATA: Buffer = emptyPacket(Cmd.data);
export const END_OF_HEADERS: Buffer = emptyPacket(Cmd.endOfHeaders);
export const END_OF_MESSAGE: Buffer = emptyPacket(Cmd.endOfMessage);
export const ABORT: Buffer = emptyPacket(Cmd.abort);
export const QUIT: Buffer = emptyPacket(Cmd.quit);
export const QUIT_NEW_CONNECTION: Buffer = emptyPacket(Cmd.quitNewConnection);
