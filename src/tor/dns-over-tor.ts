// DNS over Tor: each configured resolver (an onion or an IP) is reached as DNS over TCP through
// Tor's SocksPort (tor.dns_socks, else tor.socks), one persistent pipelined connection per
// resolver, so neither the local network nor a local resolver sees recipient domains. All
// resolvers share one isolation username, kept apart from the SMTP streams' per-onion ones.
import { createPipelinedTcpChannels, type PipelinedTcpChannels } from '../resolve/dns/tcp-pipelined.ts';
import type { Config } from '../config/schema.ts';
import { connectViaTor } from './socks-connect.ts';
import { parseSocksEndpoint, type SocksEndpoint } from './socks-endpoint.ts';

export const DNS_ISOLATION_USERNAME = 'onionmx:dns';

export type DnsOverTorResult = { readonly ok: true; readonly channels: PipelinedTcpChannels; readonly proxy: SocksEndpoint } | { readonly ok: false; readonly error: string };

export function dnsOverTorChannels(config: Config): DnsOverTorResult {
  const address = config.tor.dnsSocks ?? config.tor.socks;
  const parsed = parseSocksEndpoint(address);
  if (!parsed.ok) return { ok: false, error: `${config.tor.dnsSocks === undefined ? 'tor.socks' : 'tor.dns_socks'}: ${parsed.reason}` };
  const proxy = parsed.endpoint;
  const channels = createPipelinedTcpChannels({
    open: async (server, signal) => {
      const r = await connectViaTor({ proxy, host: server.address, port: server.port, isolation: DNS_ISOLATION_USERNAME, timeoutMs: config.tor.connectTimeoutMs, signal });
      return r.ok ? { ok: true, socket: r.socket } : { ok: false, detail: r.message };
    },
  });
  return { ok: true, channels, proxy };
}
