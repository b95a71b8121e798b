// The small load a cell runs while its fault is on, and the bookkeeping behind the invariants.
// Each message has one recipient and a Message-ID of its own; which of them reached which sink, and
// which are still in Postfix's queue, is counted by that ID at the end (accounting.ts).
import { openSmtp, type SmtpReply } from '../helpers/smtp-client.ts';
import { buildMessage } from '../helpers/smtp-message.ts';
import { PINNED_DOMAIN, clearDomain, srvDomain } from './lab.ts';

/** Where a message is meant to go: `onion` ones must never reach the clearnet sink. */
export type Kind = 'onion-srv' | 'onion-pinned' | 'clearnet';

export interface Attempt {
  readonly messageId: string;
  readonly kind: Kind;
  readonly rcpt: string;
  /** The reply that settled the transaction (RCPT refusal, DATA's final reply, or the first failure). */
  readonly reply: string;
  /** Postfix accepted it (250 to the final dot). */
  readonly accepted: boolean;
  readonly queueId: string | undefined;
  /** During the fault window. */
  readonly underFault: boolean;
}

let serial = 0;
const REFUSED_PAUSE_MS = 50;
const KINDS: readonly Kind[] = ['onion-srv', 'clearnet', 'onion-pinned', 'onion-srv'];

/** One SMTP transaction into Postfix for the next message of `cell`; never throws. */
export async function sendOne(port: number, cell: string, underFault: boolean, kind?: Kind): Promise<Attempt> {
  const n = ++serial;
  const k = kind ?? KINDS[n % KINDS.length] ?? 'clearnet';
  // A DNS label: at most 63 characters, no hyphen at either end.
  const label = `${cell.replace(/[^a-z0-9]+/gi, '-').toLowerCase().slice(0, 40).replace(/^-+|-+$/g, '')}-${n}`;
  const rcpt = k === 'onion-srv' ? `u@${srvDomain(label)}` : k === 'onion-pinned' ? `u${n}@${PINNED_DOMAIN}` : `u@${clearDomain(label)}`;
  const messageId = `<${label}.${n}@faults.test>`;
  const attempt = (reply: SmtpReply | string, queueId?: string): Attempt => {
    const text = typeof reply === 'string' ? reply : reply.raw.split('\n').at(-1) ?? '';
    return { messageId, kind: k, rcpt, reply: text, accepted: queueId !== undefined, queueId, underFault };
  };
  let session;
  try {
    session = await openSmtp(port, '127.0.0.1', 60_000);
  } catch (err) {
    return attempt(`(no session: ${err instanceof Error ? err.message : String(err)})`);
  }
  try {
    await session.ehlo();
    const mail = await session.command('MAIL FROM:<load@sender.faults.test>');
    if (mail.code !== 250) return attempt(mail);
    const to = await session.command(`RCPT TO:<${rcpt}>`);
    if (to.code !== 250) return attempt(to);
    const data = await session.command('DATA');
    if (data.code !== 354) return attempt(data);
    const message = buildMessage([['Message-ID', messageId], ['Subject', `fault load ${label}`]]);
    const end = await session.command(`${message.replace(/\r\n$/, '')}\r\n.`);
    const queueId = end.code === 250 ? /queued as ([0-9A-Za-z]+)/.exec(end.raw)?.[1] : undefined;
    return attempt(end, queueId);
  } catch (err) {
    return attempt(`(session failed: ${err instanceof Error ? err.message : String(err)})`);
  } finally {
    await session.quit().catch(() => undefined);
  }
}

export interface Load {
  readonly attempts: readonly Attempt[];
  /** Messages sent under the fault from now on. */
  setFault(on: boolean): void;
  /** Resolves once `n` transactions have finished since the call (or `boundMs` passed). */
  waitForMore(n: number, boundMs: number): Promise<void>;
  stop(): Promise<void>;
}

/** `senders` loops, each sending one message after another until stopped. */
export function startLoad(port: number, cell: string, senders = 2): Load {
  const attempts: Attempt[] = [];
  let fault = false;
  let running = true;
  const wakers = new Set<() => void>();
  const loops = Array.from({ length: senders }, async () => {
    while (running) {
      const attempt = await sendOne(port, cell, fault);
      attempts.push(attempt);
      for (const wake of wakers) wake();
      // A refusal comes back at once: pause, so that a fault does not turn the small load into a flood.
      if (!attempt.accepted) await new Promise((r) => setTimeout(r, REFUSED_PAUSE_MS));
    }
  });
  return {
    attempts,
    setFault(on) {
      fault = on;
    },
    waitForMore(n, boundMs) {
      const target = attempts.length + n;
      return new Promise((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          wakers.delete(check);
          resolve();
        };
        const check = (): void => {
          if (attempts.length >= target) done();
        };
        const timer = setTimeout(done, boundMs);
        wakers.add(check);
      });
    },
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

/** `250 ×3, 451 4.4.3 ×5`: the replies the load got, by code and enhanced code. */
export function replySummary(attempts: readonly Attempt[]): string {
  const counts = new Map<string, number>();
  for (const a of attempts) {
    const key = /^(\d{3})(?:[ -](\d\.\d{1,3}\.\d{1,3}))?/.exec(a.reply);
    const label = key === null ? a.reply.slice(0, 24) : `${key[1] ?? ''}${key[2] === undefined ? '' : ` ${key[2]}`}`;
    counts.set(label, (counts.get(label) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} x${v}`).join(', ') || '-';
}
