// Every cell of the matrix, in the order they run (the task's order: DNS, Tor, the daemon, Postfix).
import { dnsCells } from './cells-dns.ts';
import { torCells } from './cells-tor.ts';
import { daemonCells } from './cells-daemon.ts';
import { postfixCells } from './cells-postfix.ts';
import type { Cell } from './matrix.ts';

export const CELLS: readonly Cell[] = [...dnsCells, ...torCells, ...daemonCells, ...postfixCells];

/** The cells named by `filters` (substrings of `group: name`, any case); all when none. */
export function selectCells(filters: readonly string[], smokeOnly = false): Cell[] {
  return CELLS.filter((c) => (!smokeOnly || c.smoke === true) && (filters.length === 0 || filters.some((f) => `${c.group}: ${c.name}`.toLowerCase().includes(f.toLowerCase()))));
}
