// The onion-routing milter: per recipient, decide whether it is a routing candidate (the MTA's own
// routing result in {rcpt_mailer}), resolve it, and answer; at end of message delete every incoming
// copy of the routing header and add ours. Everything that turns decisions into SMTP answers is here.
import type { Decision } from '../resolve/types.ts';
import type { EndOfMessageContext, FilterHandler, FilterSpec, SessionContext, Verdict } from '../milter/types.ts';
import { Verdicts } from '../milter/types.ts';
import { TransactionRoutes, settleMessage, type Admission, type MixedRoutes } from './transaction.ts';
import { domainListValue, postfixValue, templateValue, type HeaderFormatSpec } from './header-value.ts';

/** The resolver surface the filter needs. */
export interface RouteResolver {
  resolve(input: string, signal?: AbortSignal): Promise<Decision>;
  /**
   * The decision when it needs no I/O (maps, cached DNS), else undefined. Lets RCPT answer warm
   * recipients synchronously: no promise, hook timer or abort signal per recipient.
   */
  peek?(input: string): Decision | undefined;
}

export interface RoutingSettings {
  readonly resolver: RouteResolver;
  readonly headerName: string;
  readonly header: HeaderFormatSpec;
  readonly mixedRoutes: MixedRoutes;
  readonly mixedRoutesMaxDefer: number;
  readonly routeMailers: readonly string[];
}

export interface RoutingFilterOptions {
  /** Called once per MTA connection: the connection keeps that snapshot (SIGHUP swaps it for new ones). */
  readonly settings: () => RoutingSettings;
  /** Local submissions (Postfix non_smtpd_milters): recipients are never refused at RCPT. */
  readonly submission: boolean;
  /** Called with every decision, for metrics. */
  readonly onDecision?: (d: Decision, latencyMs: number) => void;
}

/** One constant object, so that the engine encodes the reply packet once. */
const DEFERRED = Verdicts.reply(452, '4.5.3', 'Recipient has a different delivery route than the other recipients; it will be delivered separately, try again later');

const RCPT_MACROS = ['i', '{rcpt_addr}', '{rcpt_host}', '{rcpt_mailer}'] as const;

export function createRoutingFilter(options: RoutingFilterOptions): FilterSpec {
  return {
    actions: ['addHeader', 'changeHeader'],
    // MAIL only resets per-transaction state and never refuses: no reply, no round trip per message.
    noReply: ['mail', 'header'],
    macros: { mail: ['i'], rcpt: RCPT_MACROS, eoh: ['i'], eom: ['i'] },
    open: () => new RoutingHandler(options, options.settings()),
  };
}

class RoutingHandler implements FilterHandler {
  readonly #o: RoutingFilterOptions;
  readonly #s: RoutingSettings;
  readonly #mailers: ReadonlySet<string>;
  readonly #headerLower: string;
  #tx: TransactionRoutes;
  /** Per recipient, in RCPT order: how long its DNS lookup was waited for (undefined: answered without I/O). */
  #waitedMs: (number | undefined)[] = [];
  #incomingHeaders = 0;

  constructor(options: RoutingFilterOptions, settings: RoutingSettings) {
    this.#o = options;
    this.#s = settings;
    this.#mailers = new Set(settings.routeMailers.map((m) => m.toLowerCase()));
    this.#headerLower = settings.headerName.toLowerCase();
    this.#tx = this.#newTransaction();
  }

  #newTransaction(): TransactionRoutes {
    const mode = this.#s.header.format === 'domain-list' ? 'allow' : this.#s.mixedRoutes;
    return new TransactionRoutes(mode, this.#s.mixedRoutesMaxDefer, !this.#o.submission);
  }

  mailFrom(): undefined {
    this.#reset();
    return undefined;
  }

  abort(ctx: SessionContext): void {
    // Deferred recipients are logged with their message; a transaction that ends without one
    // (RSET, QUIT) still says what it deferred.
    if (this.#tx.deferredCount > 0) ctx.log.info(this.#summary('default'), 'transaction ended before end of message; deferred recipients were refused');
    this.#reset();
  }

  #reset(): void {
    this.#tx = this.#newTransaction();
    this.#waitedMs = [];
    this.#incomingHeaders = 0;
  }

  rcptTo(ctx: SessionContext, recipient: { readonly address: string }): Verdict | Promise<Verdict> {
    const mailer = ctx.macros.get('{rcpt_mailer}')?.toLowerCase();
    // Without the macro (an MTA configured not to send it) every recipient is a candidate: looking
    // one up too many is safe, rerouting local delivery is not possible through FILTER anyway.
    const candidate = mailer === undefined || this.#mailers.has(mailer);
    if (!candidate) {
      const local: Decision = { kind: 'none', domain: domainOf(recipient.address), reason: 'local-domain', detail: `delivered by ${mailer}`, ttl: 0 };
      return this.#admit(ctx, recipient.address, local, false, undefined);
    }
    const known = this.#s.resolver.peek?.(recipient.address);
    if (known !== undefined) return this.#admit(ctx, recipient.address, known, true, undefined);
    const started = performance.now();
    return this.#s.resolver.resolve(recipient.address, ctx.signal).then((d) => this.#admit(ctx, recipient.address, d, true, performance.now() - started));
  }

  #admit(ctx: SessionContext, address: string, decision: Decision, candidate: boolean, waitedMs: number | undefined): Verdict {
    this.#waitedMs.push(waitedMs);
    this.#o.onDecision?.(decision, waitedMs ?? 0);
    const admission = this.#tx.admit(decision, candidate);
    const log = ctx.log;
    switch (admission.kind) {
      case 'accept':
        log.debug({ rcpt: address, decision }, 'recipient decided');
        return Verdicts.continue;
      case 'defer':
        log.debug({ rcpt: address, route: routeText(decision), fixed: admission.fixedClass }, 'recipient deferred: different route than the first recipient');
        return DEFERRED;
      case 'tempfail': {
        const detail = decision.kind === 'tempfail' ? `${decision.reason}${decision.detail === undefined ? '' : `: ${decision.detail}`}` : 'lookup failed';
        log.warn({ domain: decision.domain, reason: detail }, 'recipient tempfailed: onion route lookup failed');
        return Verdicts.reply(451, '4.4.3', `Onion route lookup for ${sanitize(decision.domain)} failed temporarily (${sanitize(detail)}); try again later`);
      }
      case 'reject': {
        const reason = decision.kind === 'reject' ? decision.reason : 'invalid onion address';
        log.info({ domain: decision.domain, reason }, 'recipient rejected: invalid onion domain');
        return Verdicts.reply(550, '5.1.2', `Bad destination ${sanitize(decision.domain)}: ${sanitize(reason)}`);
      }
    }
  }

  header(_ctx: SessionContext, name: string): undefined {
    if (name.toLowerCase() === this.#headerLower) this.#incomingHeaders++;
    return undefined;
  }

  endOfMessage(ctx: EndOfMessageContext): Verdict {
    // Incoming copies go first, highest index first, so earlier indices stay valid.
    for (let i = this.#incomingHeaders; i >= 1; i--) ctx.deleteHeader(this.#s.headerName, i);
    const settled = settleMessage(this.#tx, this.#s.header.format === 'domain-list');
    const log = ctx.log;
    let verdict: Verdict = Verdicts.continue;
    switch (settled.kind) {
      case 'none':
        log.info(this.#summary('default'), 'message routed');
        break;
      case 'one': {
        const h = this.#s.header;
        const value = h.format === 'template' ? templateValue(h.template, h.transport, settled.route) : postfixValue(h.format === 'postfix' ? h.transport : '', settled.route);
        ctx.addHeader(this.#s.headerName, value);
        log.info(this.#summary(value), 'message routed');
        break;
      }
      case 'per-domain': {
        const value = domainListValue(settled.routes);
        ctx.addHeader(this.#s.headerName, value);
        log.info(this.#summary(value), 'message routed');
        break;
      }
      case 'mixed-untagged':
        log.warn({ ...this.#summary('default'), classes: settled.classes }, 'message has recipients on different routes and cannot be split: delivered without a route header');
        break;
      case 'tempfail':
        log.warn({ ...this.#summary('default'), failed: settled.domains }, 'message deferred: onion route lookup failed');
        verdict = Verdicts.reply(451, '4.4.3', `Onion route lookup failed temporarily for ${settled.domains.map(sanitize).join(', ')}; try again later`);
        break;
      case 'reject':
        log.info({ ...this.#summary('default'), rejected: settled.domains }, 'message rejected: invalid onion recipient');
        verdict = Verdicts.reply(550, '5.1.2', `Bad destination ${settled.domains.map(sanitize).join(', ')}: ${sanitize(settled.reason)}`);
        break;
    }
    this.#reset();
    return verdict;
  }

  /**
   * The fields of the per-message line. Each recipient's decision is one short string (see
   * decisionText): under load this line is most of what routing costs, and strings serialise at
   * half the cost of an object per recipient.
   */
  #summary(route: string): { route: string; recipients: number; deferred: number; incomingHeadersRemoved: number; decisions: string[] } {
    const records = this.#tx.recipients;
    const decisions = new Array<string>(records.length);
    let accepted = 0;
    for (let i = 0; i < records.length; i++) {
      const r = records[i];
      if (r === undefined) continue;
      if (r.admission === 'accept') accepted++;
      decisions[i] = decisionText(r.decision, r.admission, this.#waitedMs[i]);
    }
    return { route, recipients: accepted, deferred: this.#tx.deferredCount, incomingHeadersRemoved: this.#incomingHeaders, decisions };
  }
}

const REFUSED: Readonly<Record<Admission['kind'], string>> = { accept: '', defer: ' deferred', tempfail: ' tempfailed', reject: ' rejected' };

/**
 * `<domain> route <source>[ dnssec] <onion>:<port>`, `<domain> none <reason>`, `<domain> tempfail
 * <reason>` or `<domain> reject`, then ` <n>ms` when a DNS lookup was waited for and what the
 * recipient was answered when it was not accepted.
 */
export function decisionText(d: Decision, admission: Admission['kind'], waitedMs: number | undefined): string {
  let text: string;
  switch (d.kind) {
    case 'route':
      text = `${d.domain} route ${d.source}${d.dnssec ? ' dnssec' : ''} ${d.onion}:${d.port}`;
      break;
    case 'none':
    case 'tempfail':
      text = `${d.domain} ${d.kind} ${d.reason}`;
      break;
    case 'reject':
      text = `${d.domain} reject`;
      break;
  }
  if (waitedMs !== undefined) text += ` ${waitedMs.toFixed(1)}ms`;
  return text + REFUSED[admission];
}

function domainOf(address: string): string {
  const at = address.lastIndexOf('@');
  return (at < 0 ? address : address.slice(at + 1)).toLowerCase();
}

function routeText(d: Decision): string {
  return d.kind === 'route' ? `${d.onion}:${d.port}` : 'default';
}

/** SMTP reply text: printable ASCII only, no `%` surprises (the codec escapes it anyway). */
function sanitize(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, 200);
}
