// Argument checks for the relay audit. Pure.
import { isIP } from 'node:net';
import { normaliseDomain } from '../resolve/address.ts';

export type SmtpEndpoint = { readonly ok: true; readonly host: string; readonly port: number } | { readonly ok: false; readonly reason: string };

/** `host:port`, `[v6]:port`, or a bare host or IPv4 address (port 25). */
export function parseSmtpEndpoint(value: string): SmtpEndpoint {
  let host = value;
  let portText = '25';
  const bracket = /^\[([^\]]+)\](?::(.*))?$/.exec(value);
  if (bracket !== null) {
    host = bracket[1] ?? '';
    portText = bracket[2] ?? '25';
    if (isIP(host) !== 6) return { ok: false, reason: `"${host}" in brackets is not an IPv6 address` };
  } else if (value.split(':').length === 2) {
    [host = '', portText = ''] = value.split(':');
  } else if (value.includes(':')) {
    return { ok: false, reason: 'write an IPv6 address as [address]:port' };
  }
  const port = /^[0-9]{1,5}$/.test(portText) ? Number(portText) : Number.NaN;
  if (!(port >= 1 && port <= 65535)) return { ok: false, reason: `bad port "${portText}"` };
  if (host === '' || (isIP(host) === 0 && !normaliseDomain(host).ok)) return { ok: false, reason: `bad host "${host}"` };
  return { ok: true, host, port };
}

export type AuditAddress = { readonly ok: true; readonly address: string; readonly domain: string } | { readonly ok: false; readonly reason: string };

/** A plain `local@domain` address usable inside `<...>` of MAIL and RCPT. */
export function parseAuditAddress(value: string): AuditAddress {
  const at = value.lastIndexOf('@');
  if (at <= 0 || at === value.length - 1) return { ok: false, reason: `"${value}" is not an address of the form user@domain` };
  const local = value.slice(0, at);
  if (!/^[A-Za-z0-9!#$&'*+/=?^_`{|}~.-]{1,64}$/.test(local)) return { ok: false, reason: `"${local}" is not a plain local part (letters, digits, and !#$&'*+/=?^_\`{|}~.-)` };
  const domain = normaliseDomain(value.slice(at + 1));
  if (!domain.ok) return { ok: false, reason: `"${value}": ${domain.reason}` };
  return { ok: true, address: `${local}@${domain.domain}`, domain: domain.domain };
}
