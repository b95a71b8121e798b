// Runs one hook under a deadline. A hook that throws, times out or answers nonsense yields the
// configured failure verdict and a log line; the MTA always gets its answer.
import { ErrorCode, OnionMxError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { HookResult, Verdict } from './types.ts';

export type HookFailurePolicy = 'tempfail' | 'continue' | 'reject';

/** What went wrong, for counting (metrics): never needed for correctness. */
export type MilterErrorKind = 'hook-failed' | 'hook-timeout' | 'bad-reply' | 'protocol' | 'session';

export interface HookOutcome {
  readonly verdict: Verdict;
  /** True when the hook failed and `verdict` is the failure policy's. */
  readonly failed: boolean;
}

const KINDS = new Set(['continue', 'accept', 'reject', 'tempfail', 'discard', 'skip', 'reply']);
const CONTINUE: HookOutcome = { verdict: { kind: 'continue' }, failed: false };

export interface HookCallOptions {
  readonly name: string;
  readonly timeoutMs: number;
  readonly policy: HookFailurePolicy;
  /** Called only when there is something to log (building a child logger costs). */
  readonly log: () => Logger;
  /** Aborts the hook's signal (its deadline passed). */
  readonly abort: (reason: Error) => void;
  /** Called while an asynchronous hook is pending, once it is known to be asynchronous. */
  readonly whilePending?: () => () => void;
  readonly onError?: (kind: MilterErrorKind) => void;
}

export async function callHook(run: () => HookResult, o: HookCallOptions): Promise<HookOutcome> {
  let timer: NodeJS.Timeout | undefined;
  let stopPending: (() => void) | undefined;
  try {
    const result = run();
    if (!isThenable(result)) return outcome(result, o);
    stopPending = o.whilePending?.();
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new OnionMxError(ErrorCode.MilterHookTimeout, `${o.name} hook exceeded ${o.timeoutMs} ms`));
      }, o.timeoutMs);
    });
    return outcome(await Promise.race([result, deadline]), o);
  } catch (err) {
    return failure(err, o);
  } finally {
    clearTimeout(timer);
    stopPending?.();
  }
}

function outcome(result: Verdict | undefined, o: HookCallOptions): HookOutcome {
  if (result === undefined) return CONTINUE;
  if (typeof result !== 'object' || !KINDS.has((result as { kind?: unknown }).kind as string)) {
    return failure(new OnionMxError(ErrorCode.MilterHookFailed, `${o.name} hook returned a non-verdict`), o);
  }
  return { verdict: result, failed: false };
}

function failure(err: unknown, o: HookCallOptions): HookOutcome {
  const isTimeout = err instanceof OnionMxError && err.code === ErrorCode.MilterHookTimeout;
  const error = err instanceof Error ? err : new Error(String(err));
  o.abort(error);
  o.onError?.(isTimeout ? 'hook-timeout' : 'hook-failed');
  o.log().warn(
    { err: error, hook: o.name, code: isTimeout ? ErrorCode.MilterHookTimeout : ErrorCode.MilterHookFailed, verdict: o.policy },
    isTimeout ? 'milter hook timed out' : 'milter hook failed',
  );
  return { verdict: { kind: o.policy }, failed: true };
}

function isThenable(v: unknown): v is PromiseLike<Verdict | undefined> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}
