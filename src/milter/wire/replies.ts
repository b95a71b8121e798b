// Filter -> MTA: encoders for every reply and modification action we send. Pure.
import type { Verdict } from '../types.ts';
import { CHUNK_SIZE, Reply } from './constants.ts';
import { assertHeaderName, normalizeHeaderValue } from './header-value.ts';
import { formatReplyCode } from './reply-code.ts';
import { emptyPacket, PacketWriter } from './writer.ts';

export interface OptnegReply {
  readonly version: number;
  readonly actions: number;
  readonly protocol: number;
  /** SMFIM_* stage number -> macro names; empty lists are skipped (Postfix reads them as "use defaults"). */
  readonly symbolLists?: ReadonlyMap<number, readonly string[]>;
}

export function encodeOptnegReply(reply: OptnegReply): Buffer {
  const w = new PacketWriter(Reply.optneg).u32(reply.version).u32(reply.actions).u32(reply.protocol);
  for (const [stage, names] of reply.symbolLists ?? []) {
    if (names.length > 0) w.u32(stage).cstring(names.join(' '));
  }
  return w.finish();
}

const SIMPLE: Readonly<Record<Exclude<Verdict['kind'], 'reply'>, Buffer>> = {
  continue: emptyPacket(Reply.continue),
  accept: emptyPacket(Reply.accept),
  reject: emptyPacket(Reply.reject),
  tempfail: emptyPacket(Reply.tempfail),
  discard: emptyPacket(Reply.discard),
  skip: emptyPacket(Reply.skip),
};

/** A verdict packet. Throws ProtocolError(MilterBadReply) for a malformed custom reply. */
/**
 * Reply packets of frozen verdicts seen before (Verdicts.reply freezes): filters answer with
 * constant verdicts, encoded once. A verdict that can still change is encoded every time.
 */
const encodedReplies = new WeakMap<Verdict, Buffer>();

export function encodeVerdict(verdict: Verdict): Buffer {
  if (verdict.kind !== 'reply') return SIMPLE[verdict.kind];
  const cacheable = Object.isFrozen(verdict) && (typeof verdict.text === 'string' || Object.isFrozen(verdict.text));
  let packet = cacheable ? encodedReplies.get(verdict) : undefined;
  if (packet === undefined) {
    const text = formatReplyCode(verdict.code, verdict.enhanced, verdict.text);
    packet = new PacketWriter(Reply.replyCode).cstring(text).finish();
    if (cacheable) encodedReplies.set(verdict, packet);
  }
  return packet;
}

export const PROGRESS_PACKET: Buffer = emptyPacket(Reply.progress);

export function encodeAddHeader(name: string, value: string): Buffer {
  assertHeaderName(name);
  return new PacketWriter(Reply.addHeader).cstring(name).cstring(normalizeHeaderValue(value)).finish();
}

/** `index` 0 = topmost header. */
export function encodeInsertHeader(index: number, name: string, value: string): Buffer {
  assertHeaderName(name);
  return new PacketWriter(Reply.insertHeader).u32(index).cstring(name).cstring(normalizeHeaderValue(value)).finish();
}

/** `index` is 1-based among headers of that name; an empty value deletes the header. */
export function encodeChangeHeader(index: number, name: string, value: string): Buffer {
  assertHeaderName(name);
  return new PacketWriter(Reply.changeHeader).u32(index).cstring(name).cstring(normalizeHeaderValue(value)).finish();
}

export function encodeAddRecipient(address: string): Buffer {
  return new PacketWriter(Reply.addRecipient).cstring(address).finish();
}

/** [v6] `args` is ONE space-separated string (unlike the MTA's MAIL/RCPT packets). */
export function encodeAddRecipientWithArgs(address: string, args?: string): Buffer {
  const w = new PacketWriter(Reply.addRecipientWithArgs).cstring(address);
  if (args !== undefined && args !== '') w.cstring(args);
  return w.finish();
}

export function encodeDeleteRecipient(address: string): Buffer {
  return new PacketWriter(Reply.deleteRecipient).cstring(address).finish();
}

/** [v6] */
export function encodeChangeFrom(address: string, args?: string): Buffer {
  const w = new PacketWriter(Reply.changeFrom).cstring(address);
  if (args !== undefined && args !== '') w.cstring(args);
  return w.finish();
}

export function encodeQuarantine(reason: string): Buffer {
  return new PacketWriter(Reply.quarantine).cstring(reason.replace(/[\r\n\0]+/g, ' ')).finish();
}

/** SMFIR_REPLBODY packets of at most 65535 data bytes each, to be written contiguously. */
export function encodeReplaceBody(body: Uint8Array): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < body.length; at += CHUNK_SIZE) {
    out.push(new PacketWriter(Reply.replaceBody).bytes(body.subarray(at, at + CHUNK_SIZE)).finish());
  }
  // An empty replacement body is still one (empty) packet: the body becomes empty.
  if (out.length === 0) out.push(emptyPacket(Reply.replaceBody));
  return out;
}
