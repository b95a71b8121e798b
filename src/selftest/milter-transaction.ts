// One full milter transaction against the running daemon, as Postfix's smtpd drives it: the test
// recipient (with the MTA's {rcpt_mailer} macro), a forged copy of the routing header from the
// "client", end of message. judgeTransaction() turns what came back into two checklist lines.
import { MilterClient, type EndOfMessageResult, type EventResult } from '../milter/client.ts';
import { errorMessage } from '../errors.ts';
import { fail, pass, skip, type CheckResult } from './checklist.ts';

export const FORGED_VALUE = 'forged-by-the-selftest';

export interface TransactionPlan {
  readonly listen: string;
  readonly headerName: string;
  readonly rcpt: string;
  /** Sent as {rcpt_mailer}: a mailer the daemon routes (policy.route_mailers). */
  readonly mailer: string;
  readonly timeoutMs: number;
}

export type TransactionOutcome =
  | { readonly kind: 'no-session'; readonly message: string }
  | { readonly kind: 'rcpt-refused'; readonly reply: EventResult }
  | { readonly kind: 'done'; readonly eom: EndOfMessageResult };

/** The queue id the daemon logs the selftest's message under. */
export const SELFTEST_QUEUE_ID = 'SELFTEST';

export async function runTransaction(plan: TransactionPlan): Promise<TransactionOutcome> {
  let client: MilterClient | undefined;
  const deadline = new AbortController();
  const timer = setTimeout(() => {
    deadline.abort();
    client?.destroy();
  }, plan.timeoutMs);
  try {
    client = await MilterClient.connect(plan.listen);
    await client.negotiate();
    await client.connect('selftest.localhost', 'inet', 25, '127.0.0.1');
    await client.helo('selftest.localhost');
    client.macro('M', { i: SELFTEST_QUEUE_ID });
    await client.mailFrom('<onionmx-selftest@selftest.localhost>');
    client.macro('R', { '{rcpt_mailer}': plan.mailer });
    const rcpt = await client.rcptTo(`<${plan.rcpt}>`);
    if (rcpt.kind !== 'continue' && rcpt.kind !== 'noReply' && rcpt.kind !== 'notSent') return { kind: 'rcpt-refused', reply: rcpt };
    await client.data();
    await client.header(plan.headerName, FORGED_VALUE);
    await client.header('Subject', 'onionmx-milter selftest');
    await client.endOfHeaders();
    await client.body(Buffer.from('selftest\r\n'));
    client.macro('E', { i: SELFTEST_QUEUE_ID });
    const eom = await client.endOfMessage();
    await client.quit();
    return { kind: 'done', eom };
  } catch (err) {
    return { kind: 'no-session', message: deadline.signal.aborted ? `no answer within ${plan.timeoutMs} ms` : errorMessage(err) };
  } finally {
    clearTimeout(timer);
    client?.destroy();
  }
}

/** What to do when no transaction could be held with the milter socket. */
function noSessionFix(message: string): string {
  if (/EACCES|EPERM/.test(message)) return 'run the selftest as root or as a member of the socket\'s group (milter.socket_group, e.g. postfix)';
  if (/ENOENT|ECONNREFUSED/.test(message)) return 'start the daemon (systemctl start onionmx-milter) and make milter.listen the socket it listens on';
  return "read the daemon's log (journalctl -u onionmx-milter): it refused or broke off the transaction";
}

export const ROUTING_HEADER_CHECK = 'milter adds routing header';
export const FORGED_HEADER_CHECK = 'milter deletes forged header';

/** `expected`: the header value the daemon should add for the recipient. */
export function judgeTransaction(outcome: TransactionOutcome, plan: Pick<TransactionPlan, 'listen' | 'headerName' | 'rcpt'>, expected: string): CheckResult[] {
  if (outcome.kind === 'no-session') {
    return [
      fail(ROUTING_HEADER_CHECK, `no milter transaction with ${plan.listen}: ${outcome.message}`, noSessionFix(outcome.message)),
      skip(FORGED_HEADER_CHECK, 'no transaction'),
    ];
  }
  if (outcome.kind === 'rcpt-refused') {
    const r = outcome.reply;
    const text = r.kind === 'replyCode' ? r.text : r.kind;
    return [
      fail(ROUTING_HEADER_CHECK, `RCPT <${plan.rcpt}> answered ${text}`, `see why with: onionmx-milter resolve ${plan.rcpt} (a 4xx is a lookup failure: check dns: and the maps)`),
      skip(FORGED_HEADER_CHECK, 'no end of message'),
    ];
  }
  const mods = outcome.eom.modifications;
  const name = plan.headerName.toLowerCase();
  const added = mods.filter((m) => m.kind === 'addHeader' || m.kind === 'insertHeader').filter((m) => m.name.toLowerCase() === name);
  const verdict = outcome.eom.reply.kind;
  const results: CheckResult[] = [];
  const got = added.map((m) => m.value);
  if (verdict !== 'continue' && verdict !== 'accept') {
    results.push(fail(ROUTING_HEADER_CHECK, `end of message answered ${outcome.eom.reply.kind === 'replyCode' ? outcome.eom.reply.text : verdict}`, `read the daemon's log for the message; onionmx-milter resolve ${plan.rcpt} shows the decision`));
  } else if (got.length === 1 && got[0] === expected) {
    results.push(pass(ROUTING_HEADER_CHECK, `<${plan.rcpt}> got ${plan.headerName}: ${expected}`));
  } else {
    const what = got.length === 0 ? 'no routing header' : `${plan.headerName}: ${got.join(' | ')}`;
    results.push(fail(ROUTING_HEADER_CHECK, `<${plan.rcpt}> got ${what}, expected ${plan.headerName}: ${expected}`, `check that the daemon runs with this config (reload it: systemctl reload onionmx-milter); onionmx-milter resolve ${plan.rcpt} shows the decision`));
  }
  const deleted = mods.some((m) => m.kind === 'changeHeader' && m.name.toLowerCase() === name && m.index === 1 && m.value === '');
  results.push(
    deleted
      ? pass(FORGED_HEADER_CHECK, `the client's ${plan.headerName} was deleted`)
      : fail(FORGED_HEADER_CHECK, `the client's ${plan.headerName} was not deleted`, 'a sender could route its own mail: run a current onionmx-milter and let it change headers (no milter_macro/action restrictions)'),
  );
  return results;
}
