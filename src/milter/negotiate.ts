// Option negotiation (reference §5.10): answer min(offered, 6), request only what was offered.
import {
  Action,
  ACTION_BITS_BY_VERSION,
  MAX_PROTOCOL_VERSION,
  MIN_PROTOCOL_VERSION,
  Proto,
  PROTOCOL_BITS_BY_VERSION,
  SymbolStage,
  V1_ACTIONS,
  V1_PROTOCOL,
} from './wire/constants.ts';
import type { Event, FilterHandler, FilterSpec, MacroStage, ModificationAction } from './types.ts';

export const ACTION_FLAG: Readonly<Record<ModificationAction, number>> = {
  addHeader: Action.addHeaders,
  changeHeader: Action.changeHeaders,
  addRecipient: Action.addRecipient,
  addRecipientWithArgs: Action.addRecipientWithArgs,
  deleteRecipient: Action.deleteRecipient,
  changeFrom: Action.changeFrom,
  replaceBody: Action.changeBody,
  quarantine: Action.quarantine,
};

/** The hook serving each event and the bits that switch the event off or its reply off. */
export const EVENT_BITS: Readonly<Record<Event, { hook: keyof FilterHandler; no: number; noReply: number }>> = {
  connect: { hook: 'connect', no: Proto.noConnect, noReply: Proto.noReplyConnect },
  helo: { hook: 'helo', no: Proto.noHelo, noReply: Proto.noReplyHelo },
  mail: { hook: 'mailFrom', no: Proto.noMail, noReply: Proto.noReplyMail },
  rcpt: { hook: 'rcptTo', no: Proto.noRcpt, noReply: Proto.noReplyRcpt },
  data: { hook: 'data', no: Proto.noData, noReply: Proto.noReplyData },
  header: { hook: 'header', no: Proto.noHeaders, noReply: Proto.noReplyHeader },
  eoh: { hook: 'endOfHeaders', no: Proto.noEndOfHeaders, noReply: Proto.noReplyEndOfHeaders },
  body: { hook: 'body', no: Proto.noBody, noReply: Proto.noReplyBody },
  unknown: { hook: 'unknown', no: Proto.noUnknown, noReply: Proto.noReplyUnknown },
};

const STAGE_NUMBER: Readonly<Record<MacroStage, number>> = {
  connect: SymbolStage.connect,
  helo: SymbolStage.helo,
  mail: SymbolStage.mail,
  rcpt: SymbolStage.rcpt,
  data: SymbolStage.data,
  eoh: SymbolStage.eoh,
  eom: SymbolStage.eom,
};

export interface Offer {
  readonly version: number;
  readonly actions: number;
  readonly protocol: number;
}

export interface Negotiated {
  readonly version: number;
  readonly actions: number;
  readonly protocol: number;
  readonly symbolLists: ReadonlyMap<number, readonly string[]>;
  /** Requested actions the MTA did not offer (dropped; worth a log line). */
  readonly droppedActions: readonly ModificationAction[];
}

export type NegotiationOutcome = { readonly ok: true; readonly result: Negotiated } | { readonly ok: false; readonly reason: string };

/** The highest defined version at or below `v` (there is no version 5). */
function definedVersion(v: number): number {
  return v >= 6 ? 6 : v;
}

export function negotiate(offer: Offer, spec: FilterSpec, handler: FilterHandler): NegotiationOutcome {
  if (offer.version < MIN_PROTOCOL_VERSION) {
    return { ok: false, reason: `MTA offers protocol version ${offer.version}, at least ${MIN_PROTOCOL_VERSION} needed` };
  }
  const version = Math.min(offer.version, MAX_PROTOCOL_VERSION);
  const bitsVersion = definedVersion(version);
  const mtaActions = (offer.actions === 0 ? V1_ACTIONS : offer.actions) & (ACTION_BITS_BY_VERSION[bitsVersion] ?? 0);
  const mtaProtocol = (offer.protocol === 0 ? V1_PROTOCOL : offer.protocol) & (PROTOCOL_BITS_BY_VERSION[bitsVersion] ?? 0);

  let actions = 0;
  const droppedActions: ModificationAction[] = [];
  for (const a of new Set(spec.actions)) {
    if (mtaActions & ACTION_FLAG[a]) actions |= ACTION_FLAG[a];
    else droppedActions.push(a);
  }

  let protocol = 0;
  const noReply = new Set(spec.noReply ?? []);
  for (const [event, bits] of Object.entries(EVENT_BITS) as [Event, (typeof EVENT_BITS)[Event]][]) {
    if (handler[bits.hook] === undefined) protocol |= bits.no;
    if (noReply.has(event) || handler[bits.hook] === undefined) protocol |= bits.noReply;
  }
  if (handler.body !== undefined) protocol |= Proto.skip;
  if (spec.headerLeadingSpace === true) protocol |= Proto.headerLeadingSpace;
  if (spec.rejectedRecipients === true) protocol |= Proto.rejectedRecipients;
  protocol &= mtaProtocol;

  const symbolLists = new Map<number, string[]>();
  if (version === MAX_PROTOCOL_VERSION && mtaActions & Action.setSymbolList) {
    for (const [stage, names] of Object.entries(spec.macros ?? {}) as [MacroStage, readonly string[] | undefined][]) {
      const unique = [...new Set(names ?? [])].filter((n) => n !== '');
      if (unique.length > 0) symbolLists.set(STAGE_NUMBER[stage], unique);
    }
    if (symbolLists.size > 0) actions |= Action.setSymbolList;
  }
  return { ok: true, result: { version, actions, protocol, symbolLists, droppedActions } };
}
