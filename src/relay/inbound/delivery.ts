// What one delivery attempt (an inbound transaction that reached DATA, or failed every recipient)
// came to, per recipient: the record behind the relay's log line and its metrics. Pure.
import type { SmtpReply } from '../envelope.ts';
import { replyClass, replyCodes } from './reply.ts';

export type RelayListenerKind = 'lmtp' | 'smtp';
export type DeliveryOutcome = 'delivered' | 'deferred' | 'bounced';

export interface RecipientResult {
  readonly domain: string;
  /** The full address: for debug lines only. */
  readonly address: string;
  /** The onion it went to (`<onion>:<port>`), when a session was opened. */
  readonly onion: string | undefined;
  readonly outcome: DeliveryOutcome;
  /** What the MTA was told for this recipient. */
  readonly reply: SmtpReply;
  /** Tor's code when Tor failed the connect (F2, 06, timeout, proxy-unreachable, ...). */
  readonly torCode: string | undefined;
  /** The upstream session came from the pool. */
  readonly reused: boolean | undefined;
}

export interface DeliveryReport {
  readonly listener: RelayListenerKind;
  /** The MTA's queue id (XFORWARD IDENT), when it sent one. */
  readonly queueId: string | undefined;
  readonly sender: string;
  readonly recipients: readonly RecipientResult[];
  /** First RCPT to final reply. */
  readonly ms: number;
  /** Message octets read (0 when DATA was never reached). */
  readonly size: number;
  /** Why it ended early: `refused` (bad message), `lost` (the MTA went away), `timeout`. */
  readonly aborted: string | undefined;
}

export function outcomeOf(reply: SmtpReply): DeliveryOutcome {
  const c = replyClass(reply);
  return c === 2 ? 'delivered' : c === 5 ? 'bounced' : 'deferred';
}

/** The log line's fields at info: domains, onions, outcomes, codes; no addresses. */
export function deliveryLogFields(report: DeliveryReport): Record<string, unknown> {
  return {
    listener: report.listener,
    ...(report.queueId === undefined ? {} : { qid: report.queueId }),
    recipients: report.recipients.map((r) => ({
      domain: r.domain,
      ...(r.onion === undefined ? {} : { onion: r.onion }),
      outcome: r.outcome,
      reply: replyCodes(r.reply),
      ...(r.torCode === undefined ? {} : { tor: r.torCode }),
      ...(r.reused === undefined ? {} : { reused: r.reused }),
    })),
    delivered: report.recipients.filter((r) => r.outcome === 'delivered').length,
    size: report.size,
    ms: Math.round(report.ms),
    ...(report.aborted === undefined ? {} : { aborted: report.aborted }),
  };
}

/** The debug line's fields: the addresses and the full reply texts. */
export function deliveryDebugFields(report: DeliveryReport): Record<string, unknown> {
  return {
    ...(report.queueId === undefined ? {} : { qid: report.queueId }),
    from: report.sender,
    recipients: report.recipients.map((r) => ({ to: r.address, reply: `${r.reply.code} ${r.reply.lines.join(' / ')}` })),
  };
}
