// Which DNS servers the SRV lookups use and whether their AD bit counts, for the start log and
// `check`. Under dns.dnssec: required an SRV answer routes only when a trusted server (loopback,
// trust_ad, an onion resolver) authenticated it; with no trusted server at all no SRV route can
// ever be used, a setup that otherwise looks healthy. Pure.
import type { Config } from '../config/schema.ts';
import type { DnsServer } from './dns/index.ts';
import { isLoopbackAddress } from './dns/index.ts';
import { isOnionName } from './onion.ts';

export interface DnsTrustReport {
  /** Where the list came from: the config, or the nameservers of /etc/resolv.conf. */
  readonly from: 'dns.servers' | '/etc/resolv.conf';
  /** `address:port (AD trusted: why)` or `address:port (AD not trusted)`, in query order. */
  readonly servers: readonly string[];
  readonly dnssec: Config['dns']['dnssec'];
  /** Set when dns.dnssec: required can never be met by these servers; says what to do. */
  readonly warning: string | undefined;
}

export function dnsTrustReport(config: Config, servers: readonly DnsServer[]): DnsTrustReport {
  const from = config.dns.servers.length > 0 ? 'dns.servers' : '/etc/resolv.conf';
  const label = (s: DnsServer): string => `${s.address.includes(':') ? `[${s.address}]` : s.address}:${s.port}`;
  const why = (s: DnsServer): string => {
    if (isLoopbackAddress(s.address)) return 'loopback';
    if (isOnionName(s.address)) return 'onion resolver';
    return from === 'dns.servers' ? 'trust_ad' : 'resolv.conf options trust-ad';
  };
  const described = servers.map((s) => `${label(s)} (${s.trustAd ? `AD trusted: ${why(s)}` : 'AD not trusted'})`);
  const none = config.dns.dnssec === 'required' && servers.length > 0 && servers.every((s) => !s.trustAd);
  const warning = none
    ? `dns.dnssec is required, but no DNS server is trusted to validate (${servers.map(label).join(', ')} from ${from}: none is on loopback or marked trust_ad), ` +
      'so no SRV answer counts as authenticated and no SRV route is ever used: only your maps, the bundled map and .onion recipients route. ' +
      'Fix: run a validating resolver on loopback (unbound on 127.0.0.1) and list it in dns.servers; or mark a validating resolver you reach over a path you trust ' +
      '{address: ..., trust_ad: true}; or set dns.dnssec: optional, which lets anyone who can spoof your DNS send a domain\'s mail to an onion of their choosing'
    : undefined;
  return { from, servers: described, dnssec: config.dns.dnssec, warning };
}
