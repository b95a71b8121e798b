// The routing header's value in its three formats. Pure.
import type { RouteDecision } from '../resolve/types.ts';

export type HeaderFormatSpec =
  | { readonly format: 'postfix'; readonly transport: string }
  | { readonly format: 'domain-list' }
  | { readonly format: 'template'; readonly template: string; readonly transport: string };

/** `smtptor:[<onion>]:25`: a Postfix FILTER destination for the whole message. */
export function postfixValue(transport: string, route: Pick<RouteDecision, 'onion' | 'port'>): string {
  return `${transport}:[${route.onion}]:${route.port}`;
}

/** `a.example=<onion>:25 b.example=<onion>:25`: per-recipient-domain routes, sorted, one per domain. */
export function domainListValue(routes: readonly Pick<RouteDecision, 'domain' | 'onion' | 'port'>[]): string {
  const byDomain = new Map<string, string>();
  for (const r of routes) byDomain.set(r.domain, `${r.domain}=${r.onion}:${r.port}`);
  return [...byDomain.keys()].sort().map((d) => byDomain.get(d)).join(' ');
}

/** `{transport}`, `{onion}`, `{port}`, `{domain}` placeholders; unknown placeholders stay as written. */
export function templateValue(template: string, transport: string, route: Pick<RouteDecision, 'domain' | 'onion' | 'port'>): string {
  const values: Readonly<Record<string, string>> = { transport, onion: route.onion, port: String(route.port), domain: route.domain };
  return template.replace(/\{(transport|onion|port|domain)\}/g, (_m, k: string) => values[k] ?? '');
}
