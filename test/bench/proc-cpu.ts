// CPU time a process (all its threads) has used so far, from /proc/<pid>/stat, in milliseconds.
import { readdirSync, readFileSync } from 'node:fs';

// USER_HZ is 100 on every Linux architecture Node supports.
const TICK_MS = 10;

export function processCpuMs(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return Number.isFinite(utime) && Number.isFinite(stime) ? (utime + stime) * TICK_MS : undefined;
}

/**
 * CPU time a process's live threads have used so far, in milliseconds with nanosecond resolution:
 * the scheduler's own run time of each thread (first field of /proc/<pid>/task/<tid>/schedstat),
 * which is utime + stime without /proc/<pid>/stat's rounding down to 10 ms ticks per process, a
 * loss that adds up over the many short-lived clients of a Postfix transport. Undefined when the
 * process is gone or the kernel has no schedstat.
 */
export function preciseCpuMs(pid: number): number | undefined {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return undefined;
  }
  let ns = 0;
  for (const tid of tids) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ', 1)[0]);
    } catch {
      // the thread ended while we looked
    }
  }
  return Number.isFinite(ns) ? ns / 1e6 : undefined;
}
