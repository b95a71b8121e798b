// The line protocol behind Exim's `${readsocket}`: one request per connection, the reply is
// everything the server writes before it closes. Pure.
//
//   route <domain|address>          -> a host list for manualroute's route_data, or zero bytes
//   header <domain> [<domain> ...]  -> the routing header value in domain-list format, or zero bytes
//
// Host lists use Exim's default `:` separator, with the port attached by a doubled colon
// (`<onion>.onion::25:<onion2>.onion::25`): onion names never contain `:`, and the list needs no
// `<;` prefix that a config might forget. No trailing newline, so the value is used as is.
// Errors answer `DEFER <reason>` (temporary: the examples defer the address) or `FAIL <reason>`
// (permanent: an invalid .onion recipient domain), never zero bytes, which means "no route".
import type { OnionTarget } from '../resolve/types.ts';
import { decodeUtf8 } from './utf8.ts';

export const EXIM_MAX_REQUEST = 4096;

export type EximRequest =
  | { readonly ok: true; readonly kind: 'route'; readonly key: string }
  | { readonly ok: true; readonly kind: 'header'; readonly domains: readonly string[] }
  | { readonly ok: false; readonly reason: string };

/** Parses one request: the bytes up to the first newline (or EOF), a trailing `\r` ignored. */
export function parseEximRequest(bytes: Uint8Array): EximRequest {
  const raw = decodeUtf8(bytes);
  if (raw === undefined) return { ok: false, reason: 'request is not valid UTF-8' };
  const nl = raw.indexOf('\n');
  const line = (nl < 0 ? raw : raw.slice(0, nl)).replace(/\r$/, '');
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x08\x0a-\x1f\x7f]/.test(line)) return { ok: false, reason: 'request contains control characters' };
  const words = line.trim().split(/[ \t]+/);
  const [verb = '', ...args] = words;
  switch (verb.toLowerCase()) {
    case 'route':
      if (args.length !== 1 || args[0] === undefined) return { ok: false, reason: 'usage: route <domain|address>' };
      return { ok: true, kind: 'route', key: args[0] };
    case 'header':
      if (args.length === 0) return { ok: false, reason: 'usage: header <domain> [<domain> ...]' };
      if (args.some((a) => a.includes('@'))) return { ok: false, reason: 'header takes domains, not addresses' };
      return { ok: true, kind: 'header', domains: args };
    case '':
      return { ok: false, reason: 'empty request' };
    default:
      return { ok: false, reason: `unknown request "${verb.slice(0, 16)}" (expected route or header)` };
  }
}

/** `a.onion::25:b.onion::25`: an Exim colon-separated host list with ports. */
export function eximHostList(hops: readonly OnionTarget[]): string {
  return hops.map((h) => `${h.onion}::${h.port}`).join(':');
}

export function eximDefer(reason: string): string {
  return `DEFER ${oneLine(reason)}`;
}

export function eximFail(reason: string): string {
  return `FAIL ${oneLine(reason)}`;
}

function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x1f\x7f]+/g, ' ');
}
