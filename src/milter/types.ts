// The filter-facing API of the milter engine. The engine (codec, session, server) knows nothing
// of onions; a Filter says what it needs at negotiation and gets one handler per MTA connection.
import type { Logger } from '../log.ts';

/** What a hook answers. `undefined` from a hook means continue. */
export type Verdict =
  | { readonly kind: 'continue' }
  | { readonly kind: 'accept' }
  | { readonly kind: 'reject' }
  | { readonly kind: 'tempfail' }
  | { readonly kind: 'discard' }
  | { readonly kind: 'skip' }
  /** A custom SMTP reply: code 4xx or 5xx, enhanced status whose class matches, one or more text lines. */
  | {
      readonly kind: 'reply';
      readonly code: number;
      readonly enhanced?: string;
      readonly text: string | readonly string[];
    };

export const Verdicts = {
  continue: { kind: 'continue' },
  accept: { kind: 'accept' },
  reject: { kind: 'reject' },
  tempfail: { kind: 'tempfail' },
  discard: { kind: 'discard' },
  skip: { kind: 'skip' },
  /** Frozen, so that the engine may encode a verdict kept in a constant once and reuse the packet. */
  reply(code: number, enhanced: string | undefined, text: string | readonly string[]): Verdict {
    const lines = typeof text === 'string' ? text : Object.freeze([...text]);
    return Object.freeze(enhanced === undefined ? { kind: 'reply', code, text: lines } : { kind: 'reply', code, enhanced, text: lines });
  },
} as const satisfies Record<string, Verdict | ((...a: never[]) => Verdict)>;

export type HookResult = Verdict | undefined | Promise<Verdict | undefined>;

/** The client as the MTA reported it in SMFIC_CONNECT. */
export type ConnectInfo =
  | { readonly family: 'inet' | 'inet6'; readonly hostname: string; readonly address: string; readonly port: number }
  | { readonly family: 'unix'; readonly hostname: string; readonly path: string }
  | { readonly family: 'unknown'; readonly hostname: string };

/** An envelope address as received, and its bracket-less form (`<a@b>` and `a@b` both give `a@b`; `<>` gives ``). */
export interface EnvelopeAddress {
  readonly raw: string;
  readonly address: string;
  /** ESMTP parameters as the MTA sent them, e.g. `SIZE=123`. */
  readonly args: readonly string[];
}

/** Macros visible to a hook, libmilter style: `x` and `{x}` are the same name; later stages win. */
export interface MacroView {
  get(name: string): string | undefined;
  /** All macros currently defined, later stages overriding earlier ones. */
  all(): ReadonlyMap<string, string>;
}

export interface SessionContext {
  /** A short id unique within the process, logged on every line of this connection. */
  readonly id: string;
  readonly macros: MacroView;
  readonly log: Logger;
  /** The negotiated protocol version (2..6). */
  readonly version: number;
  /** Aborted when the MTA goes away or the hook times out. */
  readonly signal: AbortSignal;
  /**
   * True when SMFIP_HDR_LEADSPC was granted: header values arrive with their leading space and
   * values written at end of message are sent verbatim. When a filter asked for it and the MTA did
   * not grant it, received values lack the space the MTA stripped, and one leading space of each
   * written value is removed (the MTA adds it back).
   */
  readonly headerLeadingSpace: boolean;
}

/** Modifications collected at end of message and written with the final reply in one write. */
export interface EndOfMessageContext extends SessionContext {
  addHeader(name: string, value: string): void;
  insertHeader(index: number, name: string, value: string): void;
  /** 1-based index among headers of that name. */
  changeHeader(name: string, index: number, value: string): void;
  /** 1-based index among headers of that name; deletions are sent in reverse index order. */
  deleteHeader(name: string, index: number): void;
  addRecipient(address: string, args?: string): void;
  deleteRecipient(address: string): void;
  changeFrom(address: string, args?: string): void;
  replaceBody(body: Buffer): void;
  quarantine(reason: string): void;
  /** Sends SMFIR_PROGRESS now (the engine also sends it on its own while the hook runs). */
  progress(): void;
}

/** One per MTA connection; every hook is optional. Hooks a handler lacks are negotiated away. */
export interface FilterHandler {
  connect?(ctx: SessionContext, info: ConnectInfo): HookResult;
  helo?(ctx: SessionContext, name: string): HookResult;
  mailFrom?(ctx: SessionContext, sender: EnvelopeAddress): HookResult;
  rcptTo?(ctx: SessionContext, recipient: EnvelopeAddress): HookResult;
  data?(ctx: SessionContext): HookResult;
  header?(ctx: SessionContext, name: string, value: string): HookResult;
  endOfHeaders?(ctx: SessionContext): HookResult;
  body?(ctx: SessionContext, chunk: Buffer): HookResult;
  endOfMessage?(ctx: EndOfMessageContext): HookResult;
  unknown?(ctx: SessionContext, command: string): HookResult;
  /** The current transaction ended without end of message (ABORT, RSET, or a synthesised abort). */
  abort?(ctx: SessionContext): void | Promise<void>;
  /** The connection ended (QUIT, QUIT_NC, EOF, error, shutdown). */
  close?(ctx: SessionContext): void | Promise<void>;
}

export type ModificationAction =
  | 'addHeader'
  | 'changeHeader'
  | 'addRecipient'
  | 'addRecipientWithArgs'
  | 'deleteRecipient'
  | 'changeFrom'
  | 'replaceBody'
  | 'quarantine';

export type MacroStage = 'connect' | 'helo' | 'mail' | 'rcpt' | 'data' | 'eoh' | 'eom';

export type Event = 'connect' | 'helo' | 'mail' | 'rcpt' | 'data' | 'header' | 'eoh' | 'body' | 'unknown';

export interface FilterSpec {
  /** Modification powers to request; requested but not offered ones are dropped and logged. */
  readonly actions: readonly ModificationAction[];
  /** Events whose hook never answers anything but continue: negotiated as no-reply when the MTA allows. */
  readonly noReply?: readonly Event[];
  /** Macro lists to request per stage (only sent when the MTA offers SETSYMLIST; never empty lists). */
  readonly macros?: Partial<Record<MacroStage, readonly string[]>>;
  /** Header values with their leading space kept (SMFIP_HDR_LEADSPC), both ways. */
  readonly headerLeadingSpace?: boolean;
  /** Also receive recipients the MTA rejected (SMFIP_RCPT_REJ). Off unless a filter needs it. */
  readonly rejectedRecipients?: boolean;
  /** Creates the per-connection handler. */
  open(ctx: SessionContext): FilterHandler;
}
