// What `check --postfix` reads from a Postfix configuration, and the warnings it derives. Header
// mode routes whole messages with FILTER, which reaches recipients the milter never judged and
// replaces content_filter; these settings make that visible.
import { execFile } from 'node:child_process';

export interface PostfixFacts {
  readonly [param: string]: string;
}

export const AUDITED_PARAMS = [
  'always_bcc',
  'sender_bcc_maps',
  'recipient_bcc_maps',
  'content_filter',
  'smtpd_milters',
  'non_smtpd_milters',
  'milter_default_action',
  'milter_header_checks',
  'smtp_header_checks',
] as const;

export async function readPostfixFacts(configDir: string | undefined): Promise<PostfixFacts> {
  return parsePostconfParams(await runPostconf(configDir, AUDITED_PARAMS));
}

/** `postconf [-c configDir] ...args`: its standard output (also when it warned about an unknown parameter). */
export function runPostconf(configDir: string | undefined, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('postconf', [...(configDir === undefined ? [] : ['-c', configDir]), ...args], { timeout: 10_000 }, (err, stdout) => {
      if (err !== null && stdout === '') reject(new Error(`postconf failed: ${err.message}`));
      else resolve(stdout);
    });
  });
}

/** `name = value` lines as postconf prints them. Pure. */
export function parsePostconfParams(stdout: string): PostfixFacts {
  const facts: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const m = /^([a-z0-9_]+)\s*=\s*(.*)$/.exec(line);
    if (m?.[1] !== undefined) facts[m[1]] = (m[2] ?? '').trim();
  }
  return facts;
}

/** Warnings for the header mode; `ours` are our milter endpoints as Postfix names them. */
export function auditPostfix(f: PostfixFacts, headerName: string): string[] {
  const w: string[] = [];
  const tableMode = 'per-recipient routing needs the lookup-table mode (transport_maps with our socketmap/tcp_table server)';
  for (const p of ['always_bcc', 'sender_bcc_maps', 'recipient_bcc_maps'] as const) {
    if ((f[p] ?? '') !== '') w.push(`postfix: ${p} is set: FILTER also sends those copies through the onion route of the message; ${tableMode}`);
  }
  if ((f['content_filter'] ?? '') !== '') w.push(`postfix: content_filter is set: a FILTER action replaces it for tagged messages, so they skip ${f['content_filter'] ?? ''}; ${tableMode}`);
  const milters = (f['smtpd_milters'] ?? '').split(/[\s,]+/).filter(Boolean);
  if (milters.length === 0) w.push('postfix: smtpd_milters is empty: no mail is tagged');
  const action = f['milter_default_action'] ?? '';
  if (action === 'accept' || action === 'quarantine') w.push(`postfix: milter_default_action = ${action}: mail passes untagged (clear) whenever the milter is down; use tempfail`);
  if (!(f['milter_header_checks'] ?? '').includes(':')) w.push(`postfix: milter_header_checks is not set: the ${headerName} header routes nothing`);
  if (!(f['smtp_header_checks'] ?? '').includes(':')) w.push(`postfix: smtp_header_checks is not set: the ${headerName} header may leave this host (add /^${headerName}:/ IGNORE)`);
  return w;
}
