// Listen addresses as Postfix and Sendmail write them. Pure: no I/O.
//   Postfix:  inet:host:port  inet:[::1]:port  inet:port  unix:/path  local:/path
//   Sendmail: inet:port@host  inet6:port@host  local:/path  unix:/path
import { isIP } from 'node:net';
import { ConfigError } from '../errors.ts';

export type ListenTarget =
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number }
  | { readonly kind: 'unix'; readonly path: string };

export type ListenSpecResult = { readonly ok: true; readonly target: ListenTarget } | { readonly ok: false; readonly reason: string };

/** Parses a listen spec; never throws. Port 0 means "any free port". */
export function parseListenSpec(spec: string): ListenSpecResult {
  const colon = spec.indexOf(':');
  if (colon < 0) return fail(spec, 'expected inet:host:port, inet:port@host, inet6:port@host, unix:/path or local:/path');
  const scheme = spec.slice(0, colon).toLowerCase();
  const rest = spec.slice(colon + 1);
  switch (scheme) {
    case 'unix':
    case 'local':
      if (rest === '') return fail(spec, 'empty socket path');
      if (rest.includes('\0')) return fail(spec, 'socket path contains NUL');
      return { ok: true, target: { kind: 'unix', path: rest } };
    case 'inet':
    case 'inet6':
      return rest.includes('@') ? sendmailInet(spec, scheme, rest) : postfixInet(spec, scheme, rest);
    default:
      return fail(spec, `unknown scheme "${scheme}"`);
  }
}

/** Like parseListenSpec but throws ConfigError(where) on a bad spec. */
export function listenTarget(spec: string, where = 'listen'): ListenTarget {
  const r = parseListenSpec(spec);
  if (!r.ok) throw new ConfigError(where, r.reason);
  return r.target;
}

/** The canonical Postfix-style spelling: `inet:127.0.0.1:25`, `inet:[::1]:25`, `unix:/path`. */
export function formatListenTarget(t: ListenTarget): string {
  if (t.kind === 'unix') return `unix:${t.path}`;
  return isIP(t.host) === 6 ? `inet:[${t.host}]:${t.port}` : `inet:${t.host}:${t.port}`;
}

function sendmailInet(spec: string, scheme: string, rest: string): ListenSpecResult {
  const at = rest.indexOf('@');
  const port = parsePort(rest.slice(0, at));
  let host = rest.slice(at + 1);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (port === undefined) return fail(spec, `bad port "${rest.slice(0, at)}"`);
  return checkHost(spec, scheme, host === '' ? defaultHost(scheme) : host, port);
}

function postfixInet(spec: string, scheme: string, rest: string): ListenSpecResult {
  let host: string;
  let portText: string;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0 || rest[close + 1] !== ':') return fail(spec, 'expected [address]:port');
    host = rest.slice(1, close);
    portText = rest.slice(close + 2);
  } else {
    const last = rest.lastIndexOf(':');
    host = last < 0 ? '' : rest.slice(0, last);
    portText = rest.slice(last + 1);
    if (host.includes(':')) return fail(spec, 'IPv6 addresses must be bracketed: inet:[::1]:port');
  }
  const port = parsePort(portText);
  if (port === undefined) return fail(spec, `bad port "${portText}"`);
  return checkHost(spec, scheme, host === '' ? defaultHost(scheme) : host, port);
}

function checkHost(spec: string, scheme: string, host: string, port: number): ListenSpecResult {
  if (!/^[A-Za-z0-9.:%_-]+$/.test(host)) return fail(spec, `bad host "${host}"`);
  if (scheme === 'inet6' && isIP(host) === 4) return fail(spec, `inet6 with an IPv4 address "${host}"`);
  if (host.includes(':') && isIP(host) !== 6) return fail(spec, `bad IPv6 address "${host}"`);
  return { ok: true, target: { kind: 'tcp', host, port } };
}

function defaultHost(scheme: string): string {
  // A bare port binds loopback, never every interface by accident.
  return scheme === 'inet6' ? '::1' : '127.0.0.1';
}

function parsePort(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const n = Number(text);
  return n <= 65535 ? n : undefined;
}

function fail(spec: string, why: string): ListenSpecResult {
  return { ok: false, reason: `listen spec ${JSON.stringify(spec)}: ${why}` };
}
