// The open-relay audit of an onion-facing SMTP listener: an unauthenticated session that tries
// to relay to an external address, plainly and with the classic tricks, and optionally checks
// that a local recipient is accepted. Every attempt is MAIL, RCPT, RSET; the session ends with
// QUIT. DATA is never sent (the dialog refuses it), so nothing can be delivered.
import { ehloKeywords, formatReply, replyClass, type SmtpReply } from './smtp-reply.ts';
import { openSmtpDialog, type DialogResult, type SmtpDialog, type TranscriptLine } from './smtp-dialog.ts';
import { judgeRelayAudit, type AttemptOutcome, type RelayAttempt, type RelayVerdict } from './relay-verdict.ts';

export interface RelayAuditOptions {
  readonly host: string;
  readonly port: number;
  /** The external sender of the plain attempts. */
  readonly from: string;
  /** The external recipient the listener must refuse. */
  readonly to: string;
  readonly helo: string;
  /** A local recipient the listener must accept. */
  readonly local?: string;
  readonly timeoutMs: number;
}

export interface RelayAuditReport {
  /** ERROR: the listener could not be audited at all (no connection or no reply). */
  readonly verdict: RelayVerdict | 'ERROR';
  readonly reasons: readonly string[];
  readonly greeting: string | undefined;
  readonly extensions: readonly string[];
  /** The domain the tricks pretend to be local, and where it came from. */
  readonly localDomain: { readonly domain: string; readonly from: 'local' | 'greeting' } | undefined;
  readonly attempts: readonly RelayAttempt[];
  readonly transcript: readonly TranscriptLine[];
}

interface Plan {
  readonly name: string;
  readonly description: string;
  readonly expectAccept: boolean;
  readonly mailFrom: string;
  readonly rcptTo: string | undefined;
  readonly skipReason?: string;
}

const MAX_CONNECTIONS = 12;

/** Never rejects. */
export async function auditRelay(options: RelayAuditOptions): Promise<RelayAuditReport> {
  const transcript: TranscriptLine[] = [];
  const first = await connectAndGreet(options, transcript);
  if (!first.ok) {
    return { verdict: 'ERROR', reasons: [`cannot audit ${options.host}:${options.port}: ${first.detail}`], greeting: undefined, extensions: [], localDomain: undefined, attempts: [], transcript };
  }
  const greeting = formatReply(first.greeting);
  if (first.greeting.code !== 220) {
    await first.dialog.quit();
    const kind = replyClass(first.greeting.code) === 'temporary' ? 'a temporary' : 'a';
    return {
      verdict: 'INCONCLUSIVE',
      reasons: [`the listener greets with ${kind} refusal (${greeting}): it refuses every session, so nothing about its relay policy can be learnt`],
      greeting, extensions: first.extensions, localDomain: undefined, attempts: [], transcript,
    };
  }
  const localDomain = pickLocalDomain(options.local, first.greeting);
  let session: Session | undefined = first;
  let connections = 1;
  const attempts: RelayAttempt[] = [];
  for (const plan of planAttempts(options, localDomain?.domain)) {
    if (plan.rcptTo === undefined) {
      attempts.push({ name: plan.name, description: plan.description, expectAccept: plan.expectAccept, mailFrom: plan.mailFrom, rcptTo: '', outcome: 'skipped', stage: 'none', reply: plan.skipReason ?? 'skipped' });
      continue;
    }
    if (session?.dialog.connected !== true) {
      if (connections >= MAX_CONNECTIONS) {
        attempts.push(done(plan, plan.rcptTo, 'error', 'connect', 'too many reconnections'));
        continue;
      }
      connections++;
      const next = await connectAndGreet(options, transcript);
      session = next.ok && next.greeting.code === 220 ? next : undefined;
      if (session === undefined) {
        const why = next.ok ? formatReply(next.greeting) : next.detail;
        const outcome: AttemptOutcome = next.ok && replyClass(next.greeting.code) === 'permanent' ? 'refused' : next.ok ? 'temporary' : 'error';
        attempts.push(done(plan, plan.rcptTo, outcome, 'connect', `reconnecting: ${why}`));
        if (next.ok) await next.dialog.quit();
        continue;
      }
    }
    attempts.push(await runAttempt(session.dialog, plan, plan.rcptTo));
  }
  await session?.dialog.quit();
  const judged = judgeRelayAudit({ attempts, extensions: first.extensions });
  return { verdict: judged.verdict, reasons: judged.reasons, greeting, extensions: first.extensions, localDomain, attempts, transcript };
}

interface Session {
  readonly ok: true;
  readonly dialog: SmtpDialog;
  readonly greeting: SmtpReply;
  readonly extensions: readonly string[];
}

async function connectAndGreet(options: RelayAuditOptions, transcript: TranscriptLine[]): Promise<Session | { readonly ok: false; readonly detail: string }> {
  const opened = await openSmtpDialog({ host: options.host, port: options.port, timeoutMs: options.timeoutMs });
  if (!opened.ok) {
    transcript.push({ direction: 'S', text: `(${opened.kind}: ${opened.detail})` });
    return { ok: false, detail: opened.detail };
  }
  const { dialog, greeting } = opened;
  const record = (): void => {
    transcript.push(...dialog.transcript.slice(mark));
    mark = dialog.transcript.length;
  };
  let mark = 0;
  const wrapped: SmtpDialog = {
    get connected() {
      return dialog.connected;
    },
    get transcript() {
      return dialog.transcript;
    },
    async command(line) {
      const r = await dialog.command(line);
      record();
      return r;
    },
    async quit() {
      await dialog.quit();
      record();
    },
  };
  record();
  if (greeting.code !== 220) return { ok: true, dialog: wrapped, greeting, extensions: [] };
  let hello = await wrapped.command(`EHLO ${options.helo}`);
  let extensions: readonly string[] = [];
  if (hello.ok && replyClass(hello.reply.code) === 'positive') extensions = ehloKeywords(hello.reply);
  else if (hello.ok) hello = await wrapped.command(`HELO ${options.helo}`);
  if (!hello.ok) return { ok: false, detail: `no reply to EHLO/HELO: ${hello.detail}` };
  if (replyClass(hello.reply.code) !== 'positive') {
    // The session is refused before any relay question: report it like a refusing greeting.
    return { ok: true, dialog: wrapped, greeting: hello.reply, extensions };
  }
  return { ok: true, dialog: wrapped, greeting, extensions };
}

function planAttempts(options: RelayAuditOptions, local: string | undefined): Plan[] {
  const at = options.to.lastIndexOf('@');
  const user = options.to.slice(0, at);
  const external = options.to.slice(at + 1);
  const noLocal = 'no local domain known: give --local <address>';
  const trick = (name: string, description: string, rcpt: (l: string) => string): Plan =>
    local === undefined
      ? { name, description, expectAccept: false, mailFrom: options.from, rcptTo: undefined, skipReason: noLocal }
      : { name, description, expectAccept: false, mailFrom: options.from, rcptTo: rcpt(local) };
  const plans: Plan[] = [];
  if (options.local !== undefined) {
    plans.push({ name: 'local-recipient', description: 'a local recipient must be accepted', expectAccept: true, mailFrom: options.from, rcptTo: options.local });
  }
  plans.push({ name: 'plain', description: 'relay from an external sender to an external recipient', expectAccept: false, mailFrom: options.from, rcptTo: options.to });
  const forgedSender = options.local ?? (local === undefined ? undefined : `postmaster@${local}`);
  plans.push(
    forgedSender === undefined
      ? { name: 'forged-local-sender', description: 'relay with a forged local sender', expectAccept: false, mailFrom: '', rcptTo: undefined, skipReason: noLocal }
      : { name: 'forged-local-sender', description: 'relay with a forged local sender', expectAccept: false, mailFrom: forgedSender, rcptTo: options.to },
  );
  plans.push(
    trick('percent-hack', 'user%external@local', (l) => `${user}%${external}@${l}`),
    trick('source-route', '@local:user@external', (l) => `@${l}:${user}@${external}`),
    trick('quoted-local-part', '"user@external"@local', (l) => `"${user}@${external}"@${l}`),
    trick('bang-path', 'external!user@local', (l) => `${external}!${user}@${l}`),
  );
  return plans;
}

async function runAttempt(dialog: SmtpDialog, plan: Plan, rcptTo: string): Promise<RelayAttempt> {
  const mail = await dialog.command(`MAIL FROM:<${plan.mailFrom}>`);
  const mailOutcome = judgeStep(mail);
  if (mailOutcome !== 'accepted') {
    await reset(dialog);
    return done(plan, rcptTo, mailOutcome, 'mail', describe(mail));
  }
  const rcpt = await dialog.command(`RCPT TO:<${rcptTo}>`);
  await reset(dialog);
  return done(plan, rcptTo, judgeStep(rcpt), 'rcpt', describe(rcpt));
}

async function reset(dialog: SmtpDialog): Promise<void> {
  if (!dialog.connected) return;
  const r = await dialog.command('RSET');
  // A server that does not answer RSET with 250 gets a fresh connection for the next attempt.
  if (!r.ok || r.reply.code !== 250) await dialog.quit();
}

function judgeStep(result: DialogResult): AttemptOutcome {
  if (!result.ok) return 'error';
  switch (replyClass(result.reply.code)) {
    case 'positive':
      return 'accepted';
    case 'temporary':
      return 'temporary';
    case 'permanent':
      return 'refused';
    case 'intermediate':
      return 'error';
  }
}

function describe(result: DialogResult): string {
  return result.ok ? formatReply(result.reply) : `${result.kind}: ${result.detail}`;
}

function done(plan: Plan, rcptTo: string, outcome: AttemptOutcome, stage: RelayAttempt['stage'], reply: string): RelayAttempt {
  return { name: plan.name, description: plan.description, expectAccept: plan.expectAccept, mailFrom: plan.mailFrom, rcptTo, outcome, stage, reply };
}

/** The local domain for the tricks: the --local address's domain, else the host name in the greeting. */
function pickLocalDomain(local: string | undefined, greeting: SmtpReply): RelayAuditReport['localDomain'] {
  if (local !== undefined) return { domain: local.slice(local.lastIndexOf('@') + 1), from: 'local' };
  const host = (greeting.lines[0] ?? '').trim().split(/\s+/)[0] ?? '';
  return /^[a-z0-9-]+(\.[a-z0-9-]+)+$/i.test(host) ? { domain: host.toLowerCase(), from: 'greeting' } : undefined;
}
