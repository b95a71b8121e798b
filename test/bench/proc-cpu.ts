// CPU time a process (all its threads) has used so far, from /proc/<pid>/stat, in milliseconds.
import { readFileSync } from 'node:fs';

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
