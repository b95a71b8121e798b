// The open-relay verdict. Pure: attempts and advertised extensions in, PASS / INCONCLUSIVE / FAIL
// with every reason out. Only permanent refusals (5xx) prove a listener refuses to relay; a
// temporary one (4xx: greylisting, defer_unauth_destination, soft_bounce) proves nothing.

export type AttemptOutcome =
  /** RCPT answered 2xx: the server took a relay recipient (or, for the local check, the local one). */
  | 'accepted'
  /** 5xx at MAIL or RCPT. */
  | 'refused'
  /** 4xx at MAIL or RCPT, or 4xx greeting. */
  | 'temporary'
  /** The conversation broke: timeout, closed connection, malformed reply. */
  | 'error'
  /** Not tried (no local domain known for the trick). */
  | 'skipped';

export interface RelayAttempt {
  readonly name: string;
  readonly description: string;
  /** True for the --local check, which must be accepted; all others must be refused. */
  readonly expectAccept: boolean;
  readonly mailFrom: string;
  readonly rcptTo: string;
  readonly outcome: AttemptOutcome;
  readonly stage: 'connect' | 'mail' | 'rcpt' | 'none';
  /** The deciding reply (`550 5.7.1 ...`) or the failure detail. */
  readonly reply: string;
}

export type RelayVerdict = 'PASS' | 'INCONCLUSIVE' | 'FAIL';

export interface VerdictInput {
  readonly attempts: readonly RelayAttempt[];
  /** EHLO keywords, upper case. */
  readonly extensions: readonly string[];
}

export interface Judgement {
  readonly verdict: RelayVerdict;
  readonly reasons: readonly string[];
}

/** Extensions that let a client claim another client's address or name (Tor arrives from 127.0.0.1). */
export const IMPERSONATION_EXTENSIONS = ['XCLIENT', 'XFORWARD'] as const;

export function judgeRelayAudit(input: VerdictInput): Judgement {
  const fail: string[] = [];
  const unsure: string[] = [];
  for (const ext of IMPERSONATION_EXTENSIONS) {
    if (input.extensions.includes(ext)) {
      fail.push(`the listener advertises ${ext} to this client: a client from here can claim another address or name and inherit its rights`);
    }
  }
  const relay = input.attempts.filter((a) => !a.expectAccept);
  for (const a of relay) {
    if (a.outcome === 'accepted') fail.push(`${a.name}: relay recipient ${a.rcptTo} accepted (${a.reply})`);
    else if (a.outcome === 'temporary') unsure.push(`${a.name}: only a temporary refusal at ${a.stage.toUpperCase()} (${a.reply}); it proves nothing about the relay policy`);
    else if (a.outcome === 'error') unsure.push(`${a.name}: not completed (${a.reply})`);
    else if (a.outcome === 'skipped') unsure.push(`${a.name}: not tried (${a.reply})`);
  }
  if (relay.length === 0) unsure.push('no relay attempt was made');
  const local = input.attempts.find((a) => a.expectAccept);
  if (local !== undefined && local.outcome !== 'accepted') {
    const why = local.outcome === 'refused' ? 'permanently refused' : local.outcome === 'temporary' ? 'temporarily refused' : local.outcome === 'error' ? 'not completed' : 'not tried';
    unsure.push(`the local recipient ${local.rcptTo} was ${why} (${local.reply}): the listener refuses everything, so its refusals say nothing about its relay policy`);
  }
  if (fail.length > 0) return { verdict: 'FAIL', reasons: [...fail, ...unsure] };
  if (unsure.length > 0) return { verdict: 'INCONCLUSIVE', reasons: unsure };
  const reasons = [`all ${relay.length} relay attempts were permanently refused (5xx)`];
  if (local !== undefined) reasons.push(`the local recipient ${local.rcptTo} was accepted`);
  else reasons.push('no --local recipient given: a listener that refuses everything would also pass');
  return { verdict: 'PASS', reasons };
}
