// The stub resolver and SRV lookup a config describes, for the joining commands (verify,
// map check --verify-srv). Same server list and timeouts as the daemon (src/resolve/from-config.ts).
import type { Config } from '../config/schema.ts';
import { createStubResolver, type StubResolver } from '../resolve/dns/index.ts';
import { lookupOnionSrv, type OnionSrvResult } from '../resolve/srv.ts';

export type ConfigSrvLookup =
  | { readonly ok: true; readonly stub: StubResolver; readonly lookup: (domain: string) => Promise<OnionSrvResult> }
  | { readonly ok: false; readonly error: string };

export function srvLookupFromConfig(config: Config): ConfigSrvLookup {
  const stub = createStubResolver({
    ...(config.dns.servers.length > 0 ? { servers: config.dns.servers.map((s) => (s.trustAd ? { address: s.address, port: s.port, trustAd: true } : { address: s.address, port: s.port })) } : {}),
    attemptTimeoutMs: config.dns.timeoutMs,
    deadlineMs: config.dns.deadlineMs,
  });
  if (stub.servers.length === 0) return { ok: false, error: 'dns.servers is empty and /etc/resolv.conf names no nameserver' };
  return { ok: true, stub, lookup: (domain) => lookupOnionSrv(domain, { resolver: stub, service: config.srv.service }) };
}
