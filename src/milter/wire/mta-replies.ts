// Filter -> MTA decoders: what an MTA reads back (used by the client). As strict as Postfix:
// data-less replies must carry no data, strings must be NUL-terminated, nothing may trail.
import { ErrorCode, ProtocolError } from '../../errors.ts';
import { Reply } from './constants.ts';
import { Reader } from './reader.ts';

export type VerdictReply =
  | { readonly kind: 'continue' }
  | { readonly kind: 'accept' }
  | { readonly kind: 'reject' }
  | { readonly kind: 'tempfail' }
  | { readonly kind: 'discard' }
  | { readonly kind: 'skip' }
  /** SMFIR_REPLYCODE: the full text, e.g. `451 4.4.3 try later` (multi-line joined with CRLF). */
  | { readonly kind: 'replyCode'; readonly text: string };

export type Modification =
  | { readonly kind: 'addHeader'; readonly name: string; readonly value: string }
  | { readonly kind: 'insertHeader'; readonly index: number; readonly name: string; readonly value: string }
  | { readonly kind: 'changeHeader'; readonly index: number; readonly name: string; readonly value: string }
  | { readonly kind: 'addRecipient'; readonly address: string; readonly args?: string }
  | { readonly kind: 'deleteRecipient'; readonly address: string }
  | { readonly kind: 'changeFrom'; readonly address: string; readonly args?: string }
  | { readonly kind: 'replaceBody'; readonly chunk: Buffer }
  | { readonly kind: 'quarantine'; readonly reason: string };

export interface OptnegResult {
  readonly kind: 'optneg';
  readonly version: number;
  readonly actions: number;
  readonly protocol: number;
  /** SMFIM_* stage number -> requested macro names. */
  readonly symbolLists: ReadonlyMap<number, readonly string[]>;
}

export type FilterReply = VerdictReply | Modification | OptnegResult | { readonly kind: 'progress' };

const DATALESS: Readonly<Record<number, FilterReply['kind']>> = {
  [Reply.continue]: 'continue',
  [Reply.accept]: 'accept',
  [Reply.reject]: 'reject',
  [Reply.tempfail]: 'tempfail',
  [Reply.discard]: 'discard',
  [Reply.skip]: 'skip',
  [Reply.progress]: 'progress',
};

type Decoder = (r: Reader) => FilterReply;

const DECODERS: Readonly<Record<number, readonly [string, Decoder]>> = {
  [Reply.replyCode]: ['SMFIR_REPLYCODE', (r) => ({ kind: 'replyCode', text: last(r, 'text') })],
  [Reply.addHeader]: ['SMFIR_ADDHEADER', (r) => ({ kind: 'addHeader', name: r.cstring('name'), value: last(r, 'value') })],
  [Reply.insertHeader]: ['SMFIR_INSHEADER', (r) => ({ kind: 'insertHeader', index: r.u32(), name: r.cstring('name'), value: last(r, 'value') })],
  [Reply.changeHeader]: ['SMFIR_CHGHEADER', (r) => ({ kind: 'changeHeader', index: r.u32(), name: r.cstring('name'), value: last(r, 'value') })],
  [Reply.addRecipient]: ['SMFIR_ADDRCPT', (r) => ({ kind: 'addRecipient', address: last(r, 'address') })],
  [Reply.addRecipientWithArgs]: ['SMFIR_ADDRCPT_PAR', (r) => withArgs('addRecipient', r)],
  [Reply.deleteRecipient]: ['SMFIR_DELRCPT', (r) => ({ kind: 'deleteRecipient', address: last(r, 'address') })],
  [Reply.changeFrom]: ['SMFIR_CHGFROM', (r) => withArgs('changeFrom', r)],
  [Reply.replaceBody]: ['SMFIR_REPLBODY', (r) => ({ kind: 'replaceBody', chunk: r.rest() })],
  [Reply.quarantine]: ['SMFIR_QUARANTINE', (r) => ({ kind: 'quarantine', reason: last(r, 'reason') })],
  [Reply.optneg]: ['SMFIC_OPTNEG', decodeOptnegReply],
};

export function decodeFilterReply(code: number, payload: Buffer): FilterReply {
  const simple = DATALESS[code];
  if (simple !== undefined) {
    if (payload.length !== 0) {
      throw new ProtocolError(ErrorCode.MilterTrailingBytes, `reply '${String.fromCharCode(code)}' carries ${payload.length} data byte(s)`);
    }
    return { kind: simple } as FilterReply;
  }
  const entry = DECODERS[code];
  if (entry === undefined) {
    throw new ProtocolError(ErrorCode.MilterUnknownCommand, `unexpected filter reply byte 0x${code.toString(16)}`);
  }
  return entry[1](new Reader(payload, entry[0]));
}

export function isVerdict(reply: FilterReply): reply is VerdictReply {
  return reply.kind in VERDICT_KINDS;
}

const VERDICT_KINDS = { continue: 1, accept: 1, reject: 1, tempfail: 1, discard: 1, skip: 1, replyCode: 1 };

function last(r: Reader, field: string): string {
  const s = r.cstring(field);
  r.end();
  return s;
}

function withArgs(kind: 'addRecipient' | 'changeFrom', r: Reader): FilterReply {
  const address = r.cstring('address');
  if (r.remaining === 0) return { kind, address };
  return { kind, address, args: last(r, 'args') };
}

function decodeOptnegReply(r: Reader): FilterReply {
  const version = r.u32();
  const actions = r.u32();
  const protocol = r.u32();
  const symbolLists = new Map<number, string[]>();
  while (r.remaining > 0) {
    const stage = r.u32();
    const names = r.cstring(`symbol list ${stage}`);
    symbolLists.set(stage, names.split(/[ ,]+/).filter((n) => n !== ''));
  }
  return { kind: 'optneg', version, actions, protocol, symbolLists };
}
