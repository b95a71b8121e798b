// Hostile but well-addressed replies (right source, ID and question; anything after the question
// rewritten) must never throw out of the stub resolver or the SRV interpretation.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { createStubResolver } from '../../../src/resolve/dns/index.ts';
import { lookupOnionSrv } from '../../../src/resolve/srv.ts';
import { startDnsServer, type DnsTestServer } from '../../helpers/dns-server.ts';

const ONION = 'pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion';

function questionEnd(m: Buffer): number {
  let i = 12;
  while (i < m.length && m[i] !== 0) i += (m[i] ?? 0) + 1;
  return i + 1 + 4;
}

describe('hostile replies', () => {
  let server: DnsTestServer;
  before(async () => {
    server = await startDnsServer({
      zones: [{
        origin: 'example.org', soa: { ttl: 60, minimum: 60 },
        records: [0, 1, 2].map((i) => ({ name: '_onion-mx._tcp.example.org', type: 'SRV' as const, ttl: 300, data: { priority: i, weight: i, port: 25, target: ONION } })),
      }],
    });
  });
  after(async () => { await server.close(); });

  it('never throw: mutated answer/authority sections give a result or a failure', async () => {
    const resolver = createStubResolver({ servers: [{ address: server.address, port: server.port }], attemptTimeoutMs: 50, attempts: 1 });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), fc.nat(), async (edits, cut) => {
        server.setBehaviour(() => ({
          kind: 'zone',
          mutate: (bytes) => {
            const start = questionEnd(bytes);
            const out = Buffer.from(bytes);
            for (const [pos, value] of edits) out[start + (pos % Math.max(1, out.length - start))] = value;
            return cut % 4 === 0 ? out.subarray(0, start + (cut % Math.max(1, out.length - start))) : out;
          },
        }));
        const r = await lookupOnionSrv('example.org', { resolver });
        assert.ok(['targets', 'no-service', 'no-onion-target', 'nxdomain', 'nodata', 'failure'].includes(r.kind));
      }),
      { numRuns: 100, seed: 42 },
    );
  });
});

describe('createStubResolver server list from resolv.conf', () => {
  it('reads nameservers from the given file, and falls back to 127.0.0.1 without one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'onionmx-resolvconf-'));
    try {
      const path = join(dir, 'resolv.conf');
      writeFileSync(path, 'nameserver 10.0.0.53\nnameserver ::1\noptions trust-ad\n');
      assert.deepEqual(createStubResolver({ resolvConfPath: path }).servers, [
        { address: '10.0.0.53', port: 53, trustAd: true },
        { address: '::1', port: 53, trustAd: true },
      ]);
      assert.deepEqual(createStubResolver({ resolvConfPath: join(dir, 'missing') }).servers, [{ address: '127.0.0.1', port: 53, trustAd: true }]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
