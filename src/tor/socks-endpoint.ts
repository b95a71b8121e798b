// Where Tor's SocksPort is: `host:port`, `[v6]:port`, `inet:host:port` or `unix:/path` (Tor's
// `SocksPort unix:/run/tor/socks`). Pure: no I/O.
import { parseListenSpec, type ListenTarget } from '../net/listen-spec.ts';

export type SocksEndpoint = ListenTarget;

export type SocksEndpointResult = { readonly ok: true; readonly endpoint: SocksEndpoint } | { readonly ok: false; readonly reason: string };

export function parseSocksEndpoint(value: string): SocksEndpointResult {
  const spec = /^(inet6?|unix|local):/i.test(value) ? value : `inet:${value}`;
  const parsed = parseListenSpec(spec);
  if (!parsed.ok) return { ok: false, reason: `bad Tor SOCKS address "${value}": ${parsed.reason}` };
  if (parsed.target.kind === 'tcp' && parsed.target.port === 0) return { ok: false, reason: `bad Tor SOCKS address "${value}": port 0` };
  return { ok: true, endpoint: parsed.target };
}

export function formatSocksEndpoint(endpoint: SocksEndpoint): string {
  if (endpoint.kind === 'unix') return `unix:${endpoint.path}`;
  return endpoint.host.includes(':') ? `[${endpoint.host}]:${endpoint.port}` : `${endpoint.host}:${endpoint.port}`;
}
