import type { Decision } from './types.ts';

/** One human-readable line per decision, for the CLI and logs. */
export function describeDecision(input: string, d: Decision): string {
  const head = input === d.domain ? d.domain : `${input} (${d.domain})`;
  switch (d.kind) {
    case 'route': {
      const more = d.hops.length > 1 ? `, ${d.hops.length - 1} more hop(s)` : '';
      return `${head}: route ${d.onion}:${d.port} via ${d.source}${d.dnssec ? ' (DNSSEC)' : ''} from ${d.origin}, ttl ${d.ttl}s${more}`;
    }
    case 'none':
      return `${head}: no route (${d.reason}${d.detail === undefined ? '' : `: ${d.detail}`})`;
    case 'tempfail':
      return `${head}: TEMPFAIL (${d.reason}${d.detail === undefined ? '' : `: ${d.detail}`}); mail would be deferred`;
    case 'reject':
      return `${head}: REJECT (${d.reason})`;
  }
}
