// The routing state of one SMTP transaction: which route class each accepted recipient has and
// whether a recipient of another class must be deferred. An explicit, pure state machine; the
// milter filter feeds it decisions and turns its answers into SMTP replies.
import type { Decision, RouteDecision } from '../resolve/types.ts';

export type MixedRoutes = 'defer' | 'allow' | 'default';

/** What to answer one recipient. */
export type Admission =
  | { readonly kind: 'accept' }
  /** 452 4.5.3: another route class was fixed first; the client retries this one separately. */
  | { readonly kind: 'defer'; readonly fixedClass: string }
  /** 451 4.4.3: the route lookup failed temporarily. */
  | { readonly kind: 'tempfail' }
  /** 550 5.1.2: the recipient domain is an invalid .onion. */
  | { readonly kind: 'reject' };

export interface RecipientRecord {
  readonly decision: Decision;
  /** Not a routing candidate (local delivery by the MTA's own routing): class `default`, no lookup. */
  readonly candidate: boolean;
  readonly admission: Admission['kind'];
}

export const DEFAULT_CLASS = 'default';

export function routeClass(decision: Decision | undefined): string {
  return decision?.kind === 'route' ? `${decision.onion}:${decision.port}` : DEFAULT_CLASS;
}

export class TransactionRoutes {
  readonly #mode: MixedRoutes;
  readonly #maxDefer: number;
  readonly #atRcpt: boolean;
  #fixedClass: string | undefined;
  #deferred = 0;
  #mixed = false;
  readonly recipients: RecipientRecord[] = [];

  /**
   * @param atRcpt false for local submissions (Postfix non_smtpd_milters), where a recipient may be
   *   neither rejected nor tempfailed: everything is accepted and settled at end of message.
   */
  constructor(mode: MixedRoutes, maxDefer: number, atRcpt: boolean) {
    this.#mode = mode;
    this.#maxDefer = maxDefer;
    this.#atRcpt = atRcpt;
  }

  admit(decision: Decision, candidate: boolean): Admission {
    const answer = this.#answer(decision);
    this.recipients.push({ decision, candidate, admission: answer.kind });
    return answer;
  }

  #answer(decision: Decision): Admission {
    if (this.#atRcpt && decision.kind === 'reject') return { kind: 'reject' };
    if (this.#atRcpt && decision.kind === 'tempfail') return { kind: 'tempfail' };
    const cls = routeClass(decision);
    if (this.#fixedClass === undefined) {
      this.#fixedClass = cls;
      return { kind: 'accept' };
    }
    if (cls === this.#fixedClass) return { kind: 'accept' };
    if (this.#mode === 'defer' && this.#atRcpt && !this.#mixed && this.#deferred < this.#maxDefer) {
      this.#deferred++;
      return { kind: 'defer', fixedClass: this.#fixedClass };
    }
    this.#mixed = true;
    return { kind: 'accept' };
  }

  /** True when accepted recipients have more than one route class. */
  get mixed(): boolean {
    return this.#mixed;
  }

  get deferredCount(): number {
    return this.#deferred;
  }
}

/** What end of message does with the accepted recipients. */
export type MessageRouting =
  | { readonly kind: 'none' }
  | { readonly kind: 'one'; readonly route: RouteDecision }
  | { readonly kind: 'per-domain'; readonly routes: readonly RouteDecision[] }
  /** Mixed classes where one route per message is needed: no header, logged as a warning. */
  | { readonly kind: 'mixed-untagged'; readonly classes: readonly string[] }
  /** Local submission only: a recipient could not be decided; the message is deferred whole. */
  | { readonly kind: 'tempfail'; readonly domains: readonly string[] }
  | { readonly kind: 'reject'; readonly domains: readonly string[]; readonly reason: string };

export function settleMessage(t: TransactionRoutes, perRecipient: boolean): MessageRouting {
  // One pass over the recipients (this runs for every message).
  let rejected: string[] | undefined;
  let rejectReason: string | undefined;
  let failed: string[] | undefined;
  const routes: RouteDecision[] = [];
  let firstClass: string | undefined;
  let classes: string[] | undefined;
  for (const r of t.recipients) {
    if (r.admission !== 'accept') continue;
    const d = r.decision;
    if (d.kind === 'reject') {
      (rejected ??= []).push(d.domain);
      rejectReason ??= d.reason;
      continue;
    }
    if (d.kind === 'tempfail') {
      (failed ??= []).push(d.domain);
      continue;
    }
    if (d.kind === 'route') routes.push(d);
    const cls = routeClass(d);
    if (firstClass === undefined) firstClass = cls;
    else if (cls !== firstClass && !(classes ??= [firstClass]).includes(cls)) classes.push(cls);
  }
  if (rejected !== undefined) return { kind: 'reject', domains: rejected, reason: rejectReason ?? 'invalid onion' };
  if (failed !== undefined) return { kind: 'tempfail', domains: failed };
  const [route] = routes;
  if (route === undefined) return { kind: 'none' };
  if (perRecipient) return { kind: 'per-domain', routes };
  if (classes !== undefined) return { kind: 'mixed-untagged', classes };
  return { kind: 'one', route };
}
