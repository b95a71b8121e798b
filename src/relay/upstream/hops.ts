// When every hop of a route failed: which reply the MTA gets. Rule: the first hop's reply when
// every hop failed permanently (5xx: the mail cannot go anywhere), otherwise the first temporary
// failure's, so one hop's permanent trouble (an F6 among good hops, say) never bounces mail another
// hop may still take. The other hops' reasons follow as further lines with the same enhanced code
// (RFC 2034: every line of a reply carries it), so the MTA's log names all of them. Pure.
import type { OnionTarget } from '../../resolve/types.ts';
import type { SmtpReply } from '../envelope.ts';
import type { UpstreamFailure } from './api.ts';
import { targetLabel } from './replies.ts';

export interface HopFailure {
  readonly target: OnionTarget;
  readonly reply: SmtpReply;
  readonly torCode: string | undefined;
}

const ENHANCED = /^[245]\.\d{1,3}\.\d{1,3}(?=\s|$)/;

export function combineHopFailures(failures: readonly HopFailure[]): UpstreamFailure {
  const chosen = failures.find((f) => Math.floor(f.reply.code / 100) !== 5) ?? failures[0];
  if (chosen === undefined) return { ok: false, reply: { code: 451, lines: ['4.4.4 No onion hop to deliver to'] }, torCode: undefined };
  if (failures.length === 1) return { ok: false, reply: chosen.reply, torCode: chosen.torCode };
  const enhanced = ENHANCED.exec(chosen.reply.lines[0] ?? '')?.[0] ?? `${Math.floor(chosen.reply.code / 100)}.0.0`;
  const others = failures
    .filter((f) => f !== chosen)
    .map((f) => `${enhanced} also tried ${targetLabel(f.target)}: ${f.reply.code} ${(f.reply.lines[0] ?? '').replace(ENHANCED, '').trim()}`);
  return { ok: false, reply: { code: chosen.reply.code, lines: [...chosen.reply.lines, ...others] }, torCode: chosen.torCode };
}
