// What the selftest reads from `postconf -M`, `postconf -Px` and a milter list such as
// smtpd_milters. Pure.

export interface MasterService {
  /** `smtp`, `smtptor`, `127.0.0.1:2525`. */
  readonly name: string;
  /** `inet`, `unix`, ... */
  readonly type: string;
  /** The program: `smtpd`, `smtp`, `lmtp`, `smtp_tor`. */
  readonly command: string;
  /** Its `-o name=value` overrides, expanded (from `postconf -Px`). */
  readonly params: Readonly<Record<string, string>>;
}

/** `postconf -M` (one service per line) joined with `postconf -Px` (its overrides). */
export function parseMasterServices(masterM: string, masterPx: string): MasterService[] {
  const params = new Map<string, Record<string, string>>();
  for (const line of masterPx.split('\n')) {
    const m = /^(.+)\/([a-z-]+)\/([A-Za-z0-9_]+)\s*=\s*(.*)$/.exec(line);
    if (m === null) continue;
    const key = `${m[1] ?? ''}/${m[2] ?? ''}`;
    const own = params.get(key) ?? {};
    own[m[3] ?? ''] = (m[4] ?? '').trim();
    params.set(key, own);
  }
  const services: MasterService[] = [];
  for (const line of masterM.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 8 || line.startsWith('#')) continue;
    const [name = '', type = '', , , , , , command = ''] = fields;
    services.push({ name, type, command, params: params.get(`${name}/${type}`) ?? {} });
  }
  return services;
}

export interface MilterEntry {
  /** `unix:/onionmx/milter.sock`, `inet:127.0.0.1:8895`. */
  readonly address: string;
  /** Per-milter settings from the `{ address, name=value ... }` form. */
  readonly settings: Readonly<Record<string, string>>;
}

/** smtpd_milters: addresses separated by commas or white space, or `{ address, name=value, ... }`. */
export function parseMilterList(value: string): MilterEntry[] {
  const entries: MilterEntry[] = [];
  let rest = value.trim();
  while (rest !== '') {
    if (rest.startsWith('{')) {
      const close = rest.indexOf('}');
      const inner = rest.slice(1, close < 0 ? undefined : close);
      rest = close < 0 ? '' : rest.slice(close + 1);
      const [address = '', ...pairs] = inner.split(/[\s,]+/).filter(Boolean);
      const settings: Record<string, string> = {};
      for (const p of pairs) {
        const eq = p.indexOf('=');
        if (eq > 0) settings[p.slice(0, eq)] = p.slice(eq + 1);
      }
      if (address !== '') entries.push({ address, settings });
    } else {
      const m = /^[^\s,{]+/.exec(rest);
      if (m !== null) entries.push({ address: m[0], settings: {} });
      rest = rest.slice(m?.[0].length ?? 1);
    }
    rest = rest.replace(/^[\s,]+/, '');
  }
  return entries;
}

/** `pcre:/etc/postfix/a, regexp:/etc/postfix/b` -> the tables in order. */
export function parseTableList(value: string | undefined): string[] {
  return (value ?? '').split(/[\s,]+/).filter((t) => t.includes(':'));
}
