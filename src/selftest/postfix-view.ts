// Reads a Postfix configuration for the selftest (postconf -x, -M, -Px) and queries its tables
// with `postmap -q`. Thin glue over the two programs.
import { execFile } from 'node:child_process';
import { parsePostconfParams, runPostconf } from '../cli/postfix-audit.ts';
import { parseMasterServices } from './postconf-parse.ts';
import { MAIN_PARAMS, type LookupOutcome, type PostfixView, type TableLookup } from './postfix-checks.ts';

export async function readPostfixView(configDir: string | undefined): Promise<PostfixView> {
  const [main, masterM, masterPx] = await Promise.all([runPostconf(configDir, ['-x', ...MAIN_PARAMS]), runPostconf(configDir, ['-M']), runPostconf(configDir, ['-Px'])]);
  return { main: parsePostconfParams(main), services: parseMasterServices(masterM, masterPx) };
}

/** `postmap [-c configDir] -q KEY TABLE` for each table in turn, as Postfix reads them. */
export function postmapLookup(configDir: string | undefined): TableLookup {
  return async (tables, key) => {
    for (const table of tables) {
      const r = await postmapQuery(configDir, table, key);
      if (r.kind !== 'none') return r;
    }
    return { kind: 'none' };
  };
}

function postmapQuery(configDir: string | undefined, table: string, key: string): Promise<LookupOutcome> {
  const args = [...(configDir === undefined ? [] : ['-c', configDir]), '-q', key, table];
  return new Promise((resolve) => {
    execFile('postmap', args, { timeout: 10_000 }, (err, stdout, stderr) => {
      if (err === null) resolve({ kind: 'found', table, value: stdout.trim() });
      // Exit 1 with nothing on stderr: the key is not in the table.
      else if (err.code === 1 && stderr.trim() === '') resolve({ kind: 'none' });
      else resolve({ kind: 'error', message: (stderr.trim().split('\n').pop() ?? '') || err.message });
    });
  });
}
