// The upstream half: begin() finds a session to the first hop that answers (an idle pooled one,
// RSET first, else a new one through Tor), hands it out as one transaction, and takes it back on
// release() for the next message to that onion. See api.ts for the contract.
import { performance } from 'node:perf_hooks';
import type { OnionTarget } from '../../resolve/types.ts';
import type { BeginOptions, UpstreamBegin, UpstreamFailure, Upstreams } from './api.ts';
import { combineHopFailures, type HopFailure } from './hops.ts';
import { resolveUpstreamOptions, type ResolvedUpstreamOptions, type UpstreamOptions } from './options.ts';
import { SessionPool, type Lease } from './pool.ts';
import { abortedReply, congestionReply, shuttingDownReply, targetLabel } from './replies.ts';
import { openSession, type OpenResult, type UpstreamSession } from './session.ts';
import { SessionTransaction, type TransactionEnd } from './transaction.ts';

export function createUpstreams(options: UpstreamOptions): Upstreams {
  return new PooledUpstreams(resolveUpstreamOptions(options));
}

type HopResult = { readonly ok: true; readonly transaction: SessionTransaction } | (UpstreamFailure & { readonly everyHop: boolean });

class PooledUpstreams implements Upstreams {
  readonly #options: ResolvedUpstreamOptions;
  readonly #pool: SessionPool;
  /** Sessions handed out, or released and not yet back in the pool or closed. */
  readonly #busy = new Set<UpstreamSession>();
  /** Sessions being QUIT. */
  readonly #quitting = new Set<UpstreamSession>();
  readonly #quits = new Set<Promise<void>>();
  readonly #shutdown = new AbortController();
  #closed = false;
  #busyChanged: (() => void) | undefined;

  constructor(options: ResolvedUpstreamOptions) {
    this.#options = options;
    this.#pool = new SessionPool(options.pool, {
      retire: (session, why) => {
        this.#options.logger?.debug({ onion: targetLabel(session.target), why }, 'relay upstream: idle session retired');
        if (why === 'gone') session.destroy('the server closed the idle session');
        else this.#quit(session);
      },
    });
  }

  get idleCount(): number {
    return this.#pool.idleCount;
  }

  get openCount(): number {
    return this.#pool.idleCount + this.#busy.size;
  }

  async begin(hops: readonly OnionTarget[], options: BeginOptions = {}): Promise<UpstreamBegin> {
    if (this.#closed) return { ok: false, reply: shuttingDownReply(), torCode: undefined };
    const link = linkSignals(options.signal, this.#shutdown.signal);
    try {
      const failures: HopFailure[] = [];
      for (const hop of hops) {
        const result = await this.#beginAt(hop, link.signal, options.queueId);
        if (result.ok) return result;
        failures.push({ target: hop, reply: result.reply, torCode: result.torCode });
        if (result.everyHop) break;
      }
      return combineHopFailures(failures);
    } finally {
      link.unlink();
    }
  }

  async #beginAt(hop: OnionTarget, signal: AbortSignal, queueId: string | undefined): Promise<HopResult> {
    const key = targetLabel(hop);
    const started = performance.now();
    const lease = await this.#pool.acquire(key, signal);
    if (!lease.ok) return this.#leaseFailure(hop, lease, performance.now() - started);
    if (lease.session !== undefined) {
      const session = lease.session;
      this.#busy.add(session);
      const reset = await session.rset();
      if (reset && !this.#closed) {
        this.#report('reused', hop, performance.now() - started, undefined, queueId);
        return { ok: true, transaction: this.#transaction(session, true) };
      }
      // Closed by the server while idle (or RSET refused): replaced once, on the same slot,
      // before any command of the transaction was sent.
      this.#busy.delete(session);
      session.destroy('not reusable');
      this.#options.logger?.debug({ onion: key, qid: queueId }, 'relay upstream: pooled session was gone, opening a new one');
    }
    const opened = this.#closed ? undefined : await this.#open(hop, signal);
    if (opened === undefined || this.#closed) {
      if (opened?.ok === true) this.#quit(opened.session);
      this.#pool.free(key);
      return { ok: false, reply: shuttingDownReply(), torCode: undefined, everyHop: true };
    }
    if (!opened.ok) {
      this.#pool.free(key);
      this.#report('failed', hop, performance.now() - started, opened.torCode, queueId);
      this.#options.logger?.debug({ onion: key, qid: queueId, stage: opened.stage, tor: opened.torCode, reply: opened.reply.code }, 'relay upstream: session failed');
      return { ok: false, reply: opened.reply, torCode: opened.torCode, everyHop: opened.everyHop };
    }
    const session = opened.session;
    this.#busy.add(session);
    this.#report('new', hop, performance.now() - started, undefined, queueId);
    this.#options.logger?.debug({ onion: key, qid: queueId, ms: Math.round(opened.ms), tls: session.capabilities.tls }, 'relay upstream: session opened');
    return { ok: true, transaction: this.#transaction(session, false) };
  }

  /** Per starttls mode; an opportunistic handshake that failed is retried once without STARTTLS. */
  async #open(hop: OnionTarget, signal: AbortSignal): Promise<OpenResult> {
    const first = await openSession({ target: hop, options: this.#options, starttls: this.#options.starttls, signal });
    if (first.ok || first.stage !== 'tls' || this.#options.starttls !== 'opportunistic') return first;
    this.#options.logger?.debug({ onion: targetLabel(hop) }, 'relay upstream: TLS handshake failed, retrying without STARTTLS (opportunistic)');
    return openSession({ target: hop, options: this.#options, starttls: 'off', signal });
  }

  #leaseFailure(hop: OnionTarget, lease: Lease & { ok: false }, ms: number): HopResult {
    if (lease.reason === 'timeout') {
      const limit = `at most ${this.#options.pool.maxPerDestination} per onion, ${this.#options.pool.maxTotal} in all`;
      return { ok: false, reply: congestionReply(hop, Math.round(ms), limit), torCode: undefined, everyHop: false };
    }
    if (lease.reason === 'closed' || this.#closed) return { ok: false, reply: shuttingDownReply(), torCode: undefined, everyHop: true };
    return { ok: false, reply: abortedReply(hop, 'the wait for a session was cancelled'), torCode: undefined, everyHop: true };
  }

  #transaction(session: UpstreamSession, reused: boolean): SessionTransaction {
    return new SessionTransaction(session, reused, (s, end) => {
      this.#ended(s, end);
    });
  }

  #ended(session: UpstreamSession, end: TransactionEnd): void {
    const key = targetLabel(session.target);
    if (end === 'abort' || session.phase === 'closed') {
      session.destroy('the transaction ended');
      this.#done(session, key);
    } else if (session.reusable && !this.#closed) {
      // At once, so the MTA's next message to this onion finds it.
      this.#busy.delete(session);
      this.#pool.put(key, session);
      this.#busyChanged?.();
    } else {
      void this.#settle(session, key);
    }
  }

  /** After release: once the last reply is in, RSET an unfinished transaction, then pool or close. */
  async #settle(session: UpstreamSession, key: string): Promise<void> {
    await session.settled;
    if (session.needsReset && !this.#closed) await session.rset();
    if (session.reusable && !this.#closed) {
      this.#busy.delete(session);
      this.#pool.put(key, session);
      this.#busyChanged?.();
      return;
    }
    if (session.reusable) this.#quit(session);
    else session.destroy('not reusable after the transaction');
    this.#done(session, key);
  }

  #done(session: UpstreamSession, key: string): void {
    this.#busy.delete(session);
    this.#pool.free(key);
    this.#busyChanged?.();
  }

  #quit(session: UpstreamSession): void {
    this.#quitting.add(session);
    const quit = session.quit().then(() => {
      this.#quitting.delete(session);
      this.#quits.delete(quit);
    });
    this.#quits.add(quit);
  }

  #report(kind: 'new' | 'reused' | 'failed', hop: OnionTarget, ms: number, torCode: string | undefined, queueId: string | undefined): void {
    try {
      this.#options.hooks.onSession?.({ kind, onion: hop.onion, ms, ...(torCode === undefined ? {} : { torCode }) });
    } catch (err) {
      this.#options.logger?.debug({ err, qid: queueId }, 'relay upstream: onSession hook threw');
    }
  }

  async close(graceMs: number): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#shutdown.abort(new Error('the relay is shutting down'));
      for (const session of this.#pool.close()) this.#quit(session);
    }
    const deadline = performance.now() + graceMs;
    await this.#waitFor(() => this.#busy.size === 0, graceMs);
    for (const session of this.#busy) session.destroy('shutting down');
    this.#busy.clear();
    const rest = Math.max(0, deadline - performance.now());
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(this.#quits), new Promise<void>((resolve) => (timer = setTimeout(resolve, rest)))]);
    clearTimeout(timer);
    for (const session of this.#quitting) session.destroy('shutting down');
  }

  #waitFor(done: () => boolean, ms: number): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        this.#busyChanged = undefined;
        resolve();
      };
      const timer = setTimeout(finish, ms);
      this.#busyChanged = () => {
        if (done()) finish();
      };
    });
  }
}

/** One signal that aborts with either; unlink() drops the listeners on the long-lived one. */
function linkSignals(caller: AbortSignal | undefined, shutdown: AbortSignal): { readonly signal: AbortSignal; unlink(): void } {
  if (caller === undefined) return { signal: shutdown, unlink: () => undefined };
  const linked = new AbortController();
  const onCaller = (): void => {
    linked.abort(caller.reason);
  };
  const onShutdown = (): void => {
    linked.abort(shutdown.reason);
  };
  if (caller.aborted) onCaller();
  else if (shutdown.aborted) onShutdown();
  else {
    caller.addEventListener('abort', onCaller, { once: true });
    shutdown.addEventListener('abort', onShutdown, { once: true });
  }
  return {
    signal: linked.signal,
    unlink: () => {
      caller.removeEventListener('abort', onCaller);
      shutdown.removeEventListener('abort', onShutdown);
    },
  };
}
