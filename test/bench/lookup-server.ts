// The lookup servers as a benchmark peer in their own process: socketmap and tcp_table on loopback
// over one resolver (1000 pinned domains, SRV through the stub resolver to the DNS responder whose
// port is argv[2], the cache as in production). Prints `ready <socketmap port> <tcp_table port>`.
import { silentLogger } from '../../src/log.ts';
import { LookupAnswerer, createLookupServer } from '../../src/lookup/index.ts';
import { Resolver } from '../../src/resolve/resolver.ts';
import { createStubResolver } from '../../src/resolve/dns/index.ts';
import { createSrvSource } from '../../src/resolve/srv-source.ts';
import { staticMapFromTexts } from '../../src/resolve/maps/index.ts';

const PINNED = 1000;
const PIN_ONION = 'pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion';

async function main(): Promise<void> {
  const dnsPort = Number(process.argv[2]);
  const budgetMs = Number(process.argv[3] ?? 1000);
  const pins = Array.from({ length: PINNED }, (_, i) => `pin${i}.example: ${PIN_ONION}\n`).join('');
  const operatorMaps = staticMapFromTexts([{ file: 'bench-pins.yml', text: pins }]);
  const stub = createStubResolver({ servers: [{ address: '127.0.0.1', port: dnsPort }], attemptTimeoutMs: 2000, deadlineMs: 5000 });
  const srv = createSrvSource({ resolver: stub, cache: { maxEntries: 1_000_000 } });
  const resolver = new Resolver({ operatorMaps, srv, dnssec: 'required' });
  const answerer = new LookupAnswerer({ settings: () => ({ resolver, transport: 'smtptor', budgetMs }), log: silentLogger() });
  const socketmap = createLookupServer({ protocol: 'socketmap', answerer });
  const tcp = createLookupServer({ protocol: 'tcp-table', answerer });
  const a = await socketmap.listen('inet:127.0.0.1:0');
  const b = await tcp.listen('inet:127.0.0.1:0');
  process.stdout.write(`ready ${a.port ?? 0} ${b.port ?? 0}\n`);
}

void main();
