// Runs our stub resolver / SRV lookup from a separate process and prints JSON: used by the real
// DNS tests, which run it inside a loopback-only network namespace next to nsd and unbound.
//   node dns-query-cli.js '{"server":{"address":"127.0.0.1","port":5353},"lookups":[{"srv":"example.org"}]}'
import { createStubResolver, type DnsQueryResult } from '../../src/resolve/dns/index.ts';
import { lookupOnionSrv, type OnionSrvResult } from '../../src/resolve/srv.ts';
import type { RecordType } from 'dns-packet';

export interface CliRequest {
  readonly server: { readonly address: string; readonly port: number; readonly trustAd?: boolean };
  readonly lookups: readonly ({ readonly srv: string } | { readonly name: string; readonly type: RecordType })[];
  readonly udpPayloadSize?: number;
  /** Poll the first lookup until the server answers at all (bounded), for daemons still starting. */
  readonly waitUntilAnsweringMs?: number;
}

export type CliResult = { readonly srv: OnionSrvResult } | { readonly query: Omit<Extract<DnsQueryResult, { ok: true }>, 'answers' | 'authorities'> & { readonly answerTypes: string[] } } | { readonly failure: DnsQueryResult };

async function main(): Promise<void> {
  const request = JSON.parse(process.argv[2] ?? '{}') as CliRequest;
  const resolver = createStubResolver({
    servers: [request.server],
    attemptTimeoutMs: 1000,
    deadlineMs: 3000,
    ...(request.udpPayloadSize === undefined ? {} : { udpPayloadSize: request.udpPayloadSize }),
  });
  const waitUntil = Date.now() + (request.waitUntilAnsweringMs ?? 0);
  const results: CliResult[] = [];
  for (const lookup of request.lookups) {
    if ('srv' in lookup) {
      let r = await lookupOnionSrv(lookup.srv, { resolver });
      while (r.kind === 'failure' && (r.reason === 'timeout' || r.reason === 'network' || r.reason === 'refused') && Date.now() < waitUntil) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        r = await lookupOnionSrv(lookup.srv, { resolver });
      }
      results.push({ srv: r });
    } else {
      const r = await resolver.query(lookup.name, lookup.type);
      if (r.ok) {
        const { ok, rcode, authenticated, adBit, server, transport } = r;
        results.push({ query: { ok, rcode, authenticated, adBit, server, transport, answerTypes: r.answers.map((a) => a.type) } });
      } else {
        results.push({ failure: r });
      }
    }
  }
  process.stdout.write(`${JSON.stringify(results)}\n`);
}

await main();
