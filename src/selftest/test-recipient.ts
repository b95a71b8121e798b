// Which recipient the selftest sends through the milter, and the routing header the daemon must
// add for it: `--rcpt`, else a made-up user on the first domain of the operator's maps, else of
// the bundled map. Pure.
import type { Config } from '../config/schema.ts';
import type { StaticMap } from '../resolve/maps/index.ts';
import type { RouteDecision } from '../resolve/types.ts';
import { domainListValue, postfixValue, templateValue } from '../routing/header-value.ts';

export const SELFTEST_LOCAL_PART = 'onionmx-selftest';

export type TestRecipient = { readonly ok: true; readonly address: string; readonly from: string } | { readonly ok: false; readonly reason: string };

export function pickTestRecipient(rcpt: string | undefined, maps: readonly (StaticMap | undefined)[]): TestRecipient {
  if (rcpt !== undefined) return { ok: true, address: rcpt, from: '--rcpt' };
  for (const [i, map] of maps.entries()) {
    const entry = map?.entries().find((e) => e.kind === 'route' && !e.domain.startsWith('.'));
    if (entry !== undefined) return { ok: true, address: `${SELFTEST_LOCAL_PART}@${entry.domain}`, from: i === 0 ? 'the first entry of maps' : 'the first entry of the bundled map' };
  }
  return { ok: false, reason: 'no mapped domain to test with (maps are empty and bundled_map is off)' };
}

/** The value the milter writes for a message whose only recipient has this route. */
export function expectedHeaderValue(header: Config['header'], route: Pick<RouteDecision, 'domain' | 'onion' | 'port'>): string {
  switch (header.format) {
    case 'postfix':
      return postfixValue(header.transport, route);
    case 'template':
      return templateValue(header.template ?? '', header.transport, route);
    case 'domain-list':
      return domainListValue([route]);
  }
}
