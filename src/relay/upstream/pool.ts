// Session slots and idle sessions, per destination (`onion:port`) and in total. A slot is taken
// for a session from the moment it is being opened until it is closed; an idle session keeps its
// slot. Waiters are served in arrival order, each by an idle session to its destination, a free
// slot, or (under the total limit only) a slot freed by retiring the longest-idle session to
// another destination. Idle sessions are retired when their idle time is up or their server spoke
// or closed. No I/O of its own: retiring (QUIT, close) is the owner's callback.
import type { UpstreamSession } from './session.ts';

export interface PoolLimits {
  readonly idleMs: number;
  readonly maxPerDestination: number;
  readonly maxTotal: number;
  readonly waitMs: number;
}

/** A slot, with the idle session that holds it when one was free. */
export type Lease =
  | { readonly ok: true; readonly session: UpstreamSession | undefined }
  | { readonly ok: false; readonly reason: 'aborted' | 'timeout' | 'closed' };

interface IdleEntry {
  readonly key: string;
  readonly session: UpstreamSession;
  readonly timer: NodeJS.Timeout;
}

interface Waiter {
  readonly key: string;
  readonly grant: (lease: Lease) => void;
}

export interface PoolEvents {
  /** An idle session leaves the pool for good: `expired` (QUIT it) or `gone` (its connection is already bad). */
  readonly retire: (session: UpstreamSession, why: 'expired' | 'evicted' | 'gone') => void;
}

export class SessionPool {
  readonly #limits: PoolLimits;
  readonly #events: PoolEvents;
  readonly #slots = new Map<string, number>();
  #total = 0;
  /** Per destination, most recently used last; and all of them in the order they became idle. */
  readonly #idle = new Map<string, IdleEntry[]>();
  readonly #idleOrder: IdleEntry[] = [];
  readonly #waiters: Waiter[] = [];
  #closed = false;

  constructor(limits: PoolLimits, events: PoolEvents) {
    this.#limits = limits;
    this.#events = events;
  }

  get idleCount(): number {
    return this.#idleOrder.length;
  }

  /** Slots taken: sessions open, idle or being opened. */
  get slotCount(): number {
    return this.#total;
  }

  /** Waits (bounded by waitMs and the signal) for an idle session to `key` or a slot to open one. */
  acquire(key: string, signal: AbortSignal | undefined): Promise<Lease> {
    if (this.#closed) return Promise.resolve({ ok: false, reason: 'closed' });
    if (signal?.aborted === true) return Promise.resolve({ ok: false, reason: 'aborted' });
    return new Promise((resolve) => {
      const finish = (lease: Lease): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        resolve(lease);
      };
      const waiter: Waiter = { key, grant: finish };
      const drop = (reason: 'aborted' | 'timeout'): void => {
        const i = this.#waiters.indexOf(waiter);
        if (i === -1) return;
        this.#waiters.splice(i, 1);
        finish({ ok: false, reason });
      };
      const onAbort = (): void => {
        drop('aborted');
      };
      const timer = setTimeout(() => {
        drop('timeout');
      }, this.#limits.waitMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
      this.#pump();
    });
  }

  /** A healthy session between transactions: idle until taken, expired or gone. */
  put(key: string, session: UpstreamSession): void {
    if (this.#closed) {
      this.free(key);
      this.#events.retire(session, 'expired');
      return;
    }
    const timer = setTimeout(() => {
      if (this.#unidle(entry)) this.#gone(entry, 'expired');
    }, this.#limits.idleMs);
    const entry: IdleEntry = { key, session, timer };
    session.onIdleTrouble = () => {
      if (this.#unidle(entry)) this.#gone(entry, 'gone');
    };
    const list = this.#idle.get(key) ?? [];
    list.push(entry);
    this.#idle.set(key, list);
    this.#idleOrder.push(entry);
    this.#pump();
  }

  /** A slot given up: its session was closed, or could not be opened. */
  free(key: string): void {
    this.#release(key);
    this.#pump();
  }

  /** No more leases: waiters are answered `closed`, idle sessions handed back for QUIT. */
  close(): readonly UpstreamSession[] {
    this.#closed = true;
    for (const w of this.#waiters.splice(0)) w.grant({ ok: false, reason: 'closed' });
    const idle = [...this.#idleOrder];
    for (const entry of idle) {
      this.#unidle(entry);
      this.#release(entry.key);
    }
    return idle.map((e) => e.session);
  }

  #pump(): void {
    for (let i = 0; i < this.#waiters.length; ) {
      const waiter = this.#waiters[i];
      const lease = waiter === undefined ? undefined : this.#tryLease(waiter.key);
      if (waiter === undefined || lease === undefined) {
        i += 1;
        continue;
      }
      this.#waiters.splice(i, 1);
      waiter.grant(lease);
    }
  }

  #tryLease(key: string): Lease | undefined {
    const entry = this.#idle.get(key)?.at(-1);
    if (entry !== undefined) {
      this.#unidle(entry);
      return { ok: true, session: entry.session };
    }
    if ((this.#slots.get(key) ?? 0) >= this.#limits.maxPerDestination) return undefined;
    if (this.#total >= this.#limits.maxTotal) {
      const victim = this.#idleOrder[0];
      if (victim === undefined) return undefined;
      this.#unidle(victim);
      this.#release(victim.key);
      this.#events.retire(victim.session, 'evicted');
    }
    this.#slots.set(key, (this.#slots.get(key) ?? 0) + 1);
    this.#total += 1;
    return { ok: true, session: undefined };
  }

  /** Takes an entry out of the idle lists; false when it was no longer there. */
  #unidle(entry: IdleEntry): boolean {
    const list = this.#idle.get(entry.key);
    const i = list?.indexOf(entry) ?? -1;
    if (list === undefined || i === -1) return false;
    list.splice(i, 1);
    if (list.length === 0) this.#idle.delete(entry.key);
    this.#idleOrder.splice(this.#idleOrder.indexOf(entry), 1);
    clearTimeout(entry.timer);
    entry.session.onIdleTrouble = undefined;
    return true;
  }

  #gone(entry: IdleEntry, why: 'expired' | 'gone'): void {
    this.#release(entry.key);
    this.#events.retire(entry.session, why);
    this.#pump();
  }

  #release(key: string): void {
    const n = this.#slots.get(key) ?? 0;
    if (n <= 0) return;
    if (n === 1) this.#slots.delete(key);
    else this.#slots.set(key, n - 1);
    this.#total -= 1;
  }
}
