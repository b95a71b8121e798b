// The contract between the relay's two halves. The inbound side (the LMTP/SMTP listener the MTA
// hands onion mail to) decides where each recipient goes and speaks to the MTA; the upstream side
// owns everything towards the onions: Tor connects, SMTP client sessions, STARTTLS, the pool of
// idle sessions, timeouts, and turning Tor's and the network's failures into SMTP replies.
//
// Nothing here throws or rejects: every failure is a reply the inbound side can relay as it is
// (Tor's reasons with enhanced codes, timeouts, lost connections as 4xx; F6 as 5.1.2).
import type { OnionTarget } from '../../resolve/types.ts';
import type { MailCommand, RcptCommand, SmtpReply } from '../envelope.ts';

/** What the onion's server offered in its EHLO reply (all false/undefined after a HELO fallback). */
export interface UpstreamCapabilities {
  readonly pipelining: boolean;
  /** SIZE: undefined when not offered, 0 when offered without a limit. */
  readonly size: number | undefined;
  readonly eightBitMime: boolean;
  readonly smtpUtf8: boolean;
  readonly dsn: boolean;
  readonly enhancedStatusCodes: boolean;
  readonly starttls: boolean;
  /** The session runs under TLS (STARTTLS succeeded). */
  readonly tls: boolean;
}

/**
 * One mail transaction towards one onion destination, on a fresh or a reused session. Commands are
 * called in SMTP order (mail, rcpt..., data, write..., end) and at most one is outstanding; when
 * the server offered PIPELINING, rcpt may be called before mail or the previous rcpt resolved.
 */
export interface UpstreamTransaction {
  /** The hop this transaction is connected to (the first of the route's hops that answered). */
  readonly destination: OnionTarget;
  /** True when the session came from the pool (no new Tor rendezvous). */
  readonly reused: boolean;
  readonly capabilities: UpstreamCapabilities;
  /**
   * MAIL FROM with the parameters this server can take: DSN parameters only when it offered DSN;
   * SMTPUTF8 or 8BITMIME that the server does not offer, or a SIZE above its limit, is answered
   * here without sending anything (5.6.7, 5.6.3, 5.3.4).
   */
  mail(command: MailCommand): Promise<SmtpReply>;
  /** RCPT TO, with NOTIFY/ORCPT only when the server offered DSN. */
  rcpt(command: RcptCommand): Promise<SmtpReply>;
  /** DATA: 354, or the refusal (or a synthesized 4xx when the session failed). */
  data(): Promise<SmtpReply>;
  /**
   * Message bytes in wire form (CRLF lines, dot-stuffed, without the terminating `.` line), after
   * a 354. Returns false when the caller should wait for drained() before writing more.
   */
  write(chunk: Uint8Array): boolean;
  drained(): Promise<void>;
  /** Sends the terminating `.` and resolves with the server's final reply for the message. */
  end(): Promise<SmtpReply>;
  /**
   * Done with the transaction: the session returns to the pool when it is healthy (RSET first when
   * a transaction was begun but not completed), otherwise it is closed. Idempotent.
   */
  release(): void;
  /** Gives up at once: closes the session without sending the final dot, so the server discards the message. Idempotent. */
  abort(reason: string): void;
}

export interface UpstreamFailure {
  readonly ok: false;
  /** The reply to relay to the MTA for every recipient that needed this destination. */
  readonly reply: SmtpReply;
  /** Tor's code (`F2`, `06`, `timeout`, `proxy-unreachable`, ...) when Tor was the cause. */
  readonly torCode: string | undefined;
}

export type UpstreamBegin = { readonly ok: true; readonly transaction: UpstreamTransaction } | UpstreamFailure;

export interface BeginOptions {
  /** Aborts the wait for a pool slot, the connect and the greeting. */
  readonly signal?: AbortSignal;
  /** The MTA's queue id, for log lines. */
  readonly queueId?: string;
}

/** Observations for metrics; none may throw or block. */
export interface UpstreamHooks {
  /** A session was opened (`new`), taken from the pool (`reused`), or could not be opened (`failed`, with Tor's code). */
  readonly onSession?: (event: { readonly kind: 'new' | 'reused' | 'failed'; readonly onion: string; readonly torCode?: string; readonly ms: number }) => void;
}

export interface Upstreams {
  /**
   * A transaction to the first of `hops` that can be reached, in order: an idle pooled session to
   * that hop is reused after a successful RSET (a session the server closed meanwhile is replaced
   * by a fresh one, once, before any transaction command was sent), else a new session is opened
   * through Tor (SOCKS5 by name, per-onion isolation), greeted, EHLO'd and STARTTLS'd per config.
   * Waits for a slot when the per-onion or total session limit is reached.
   */
  begin(hops: readonly OnionTarget[], options?: BeginOptions): Promise<UpstreamBegin>;
  /** Idle sessions in the pool now, for metrics and tests. */
  readonly idleCount: number;
  /** Sessions open now (idle and in use). */
  readonly openCount: number;
  /** QUITs idle sessions, waits up to graceMs for transactions in progress, then closes the rest. */
  close(graceMs: number): Promise<void>;
}
