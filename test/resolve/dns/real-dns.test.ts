// Our stub resolver and SRV lookup against real servers: nsd (authoritative) serving zones signed
// at test time, and unbound validating them with the zone's key as trust anchor. Everything runs
// in a loopback-only network namespace (see test/helpers/zone.ts).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { needPrograms, needRoot } from '../../helpers/system.ts';
import { startDnsLab, type DnsLab } from '../../helpers/zone.ts';
import type { CliResult } from '../../helpers/dns-query-cli.ts';
import type { OnionSrvResult } from '../../../src/resolve/srv.ts';

const A = 'pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion';
const B = 'sp3k262uwy4r2k3ycr5awluarykdpag6a7y33jxop4cs2lu5uz5sseqd.onion';
const skip = needRoot() || needPrograms('nsd', 'unbound', 'ldns-signzone', 'ldns-keygen', 'ip');

/** A resolver's cache counts TTLs down: anything in (0, max] is right. */
function assertTtl(ttlMs: number, maxMs: number): void {
  assert.ok(ttlMs > 0 && ttlMs <= maxMs, `ttl ${ttlMs} ms not in (0, ${maxMs}]`);
}

function srvOf(results: readonly CliResult[], i = 0): OnionSrvResult {
  const r = results[i];
  assert.ok(r !== undefined && 'srv' in r, JSON.stringify(r));
  return r.srv;
}

describe('real DNS: nsd + validating unbound, offline', { skip }, () => {
  let lab: DnsLab;
  before(async () => {
    lab = await startDnsLab([
      {
        origin: 'onionmx.example',
        sign: true,
        records: [
          `_onion-mx._tcp.good IN SRV 0 5 25 ${A}.`,
          `_onion-mx._tcp.tampered IN SRV 0 5 25 ${A}.`,
          '_onion-mx._tcp.nullsrv IN SRV 0 0 0 .',
          'nosrv IN TXT "no onion here"',
          '_onion-mx._tcp.nosrv IN TXT "not an SRV"',
          ...Array.from({ length: 40 }, (_, i) => `_onion-mx._tcp.big IN SRV ${i % 3} ${i} 25 ${i % 2 === 0 ? A : B}.`),
        ],
        // The spoof: after signing, point the record at another onion; its RRSIG no longer fits.
        tamper: (signed) => signed.split('\n').map((line) => (/^_onion-mx\._tcp\.tampered\.\S+\s+\d+\s+IN\s+SRV\s/.test(line) ? line.replace(A, B) : line)).join('\n'),
      },
      { origin: 'plain.example', sign: false, records: [`_onion-mx._tcp IN SRV 0 5 25 ${B}.`] },
    ]);
  });
  after(async () => { await lab?.close(); });

  it('a signed SRV through unbound is authenticated (AD=1) and routed', async () => {
    const r = srvOf(await lab.query('unbound', { lookups: [{ srv: 'good.onionmx.example' }] }));
    assert.equal(r.kind, 'targets', JSON.stringify(r));
    assert.equal(r.kind === 'targets' && r.authenticated, true);
    assert.deepEqual(r.kind === 'targets' && r.targets, [{ onion: A, port: 25 }]);
    assertTtl(r.ttlMs, 300_000);
  });

  it('a record tampered with after signing gives SERVFAIL with EDE "DNSSEC Bogus" -> a `bogus` failure, never the forged onion', async () => {
    // unbound runs with `ede: yes`; twice, so the answer from its cache of bogus data counts too.
    for (let i = 0; i < 2; i++) {
      const results = await lab.query('unbound', { lookups: [{ srv: 'tampered.onionmx.example' }, { name: '_onion-mx._tcp.tampered.onionmx.example', type: 'SRV' }] });
      const r = srvOf(results);
      assert.equal(r.kind, 'failure', JSON.stringify(r));
      assert.equal(r.kind === 'failure' && r.reason, 'bogus', JSON.stringify(r));
      assert.match(r.kind === 'failure' ? r.detail : '', /answered SERVFAIL: EDE 6 \(DNSSEC Bogus\)/);
      assert.ok(!JSON.stringify(r).includes(B), JSON.stringify(r));
      const raw = results[1];
      assert.ok(raw !== undefined && 'failure' in raw && !raw.failure.ok, JSON.stringify(raw));
      assert.deepEqual(raw.failure.extendedErrors?.map((e) => e.infoCode), [6], JSON.stringify(raw));
    }
  });

  it('the same bogus answer from a resolver whose AD bit is not trusted stays a plain `servfail`', async () => {
    const [untrusted] = await lab.query('unbound', { trustAd: false, lookups: [{ name: '_onion-mx._tcp.tampered.onionmx.example', type: 'SRV' }] });
    assert.ok(untrusted !== undefined && 'failure' in untrusted && !untrusted.failure.ok, JSON.stringify(untrusted));
    assert.equal(untrusted.failure.reason, 'servfail', JSON.stringify(untrusted));
    assert.match(untrusted.failure.detail, /not trusted/);
  });

  it('the tampered record is served as such by nsd (so the failure above is the validation)', async () => {
    const r = srvOf(await lab.query('nsd', { lookups: [{ srv: 'tampered.onionmx.example' }] }));
    assert.deepEqual(r.kind === 'targets' && r.targets, [{ onion: B, port: 25 }]);
    assert.equal(r.kind === 'targets' && r.authenticated, false, 'authoritative servers do not set AD');
  });

  it('an unsigned zone alongside (no trust anchor above it) is insecure: authenticated false', async () => {
    const r = srvOf(await lab.query('unbound', { lookups: [{ srv: 'plain.example' }] }));
    assert.equal(r.kind, 'targets', JSON.stringify(r));
    assert.equal(r.kind === 'targets' && r.authenticated, false);
  });

  it('a signed "." target is an authenticated "no service"', async () => {
    const r = srvOf(await lab.query('unbound', { lookups: [{ srv: 'nullsrv.onionmx.example' }] }));
    assert.deepEqual({ ...r, ttlMs: 0 }, { kind: 'no-service', authenticated: true, ttlMs: 0 });
    assertTtl(r.ttlMs, 300_000);
  });

  it('NXDOMAIN and NODATA carry the SOA negative TTL (MINIMUM 60)', async () => {
    const results = await lab.query('nsd', { lookups: [{ srv: 'absent.onionmx.example' }, { srv: 'nosrv.onionmx.example' }] });
    assert.deepEqual(srvOf(results, 0), { kind: 'nxdomain', ttlMs: 60_000 });
    assert.deepEqual(srvOf(results, 1), { kind: 'nodata', ttlMs: 60_000 });
    // Through unbound the TTL counts down in its cache (the readiness probe may have primed it).
    const validated = await lab.query('unbound', { lookups: [{ srv: 'absent.onionmx.example' }, { srv: 'nosrv.onionmx.example' }] });
    assert.equal(srvOf(validated, 0).kind, 'nxdomain');
    assertTtl(srvOf(validated, 0).ttlMs, 60_000);
    assert.equal(srvOf(validated, 1).kind, 'nodata');
    assertTtl(srvOf(validated, 1).ttlMs, 60_000);
  });

  it('the AD bit is on for NXDOMAIN from the validator (authenticated denial)', async () => {
    const [r] = await lab.query('unbound', { lookups: [{ name: '_onion-mx._tcp.absent.onionmx.example', type: 'SRV' }] });
    assert.ok(r !== undefined && 'query' in r, JSON.stringify(r));
    assert.equal(r.query.rcode, 'NXDOMAIN');
    assert.equal(r.query.authenticated, true);
  });

  it('a large RRset truncated over UDP (512-byte EDNS size) arrives over TCP from nsd', async () => {
    const results = await lab.query('nsd', { udpPayloadSize: 512, lookups: [{ name: '_onion-mx._tcp.big.onionmx.example', type: 'SRV' }, { srv: 'big.onionmx.example' }] });
    const [raw] = results;
    assert.ok(raw !== undefined && 'query' in raw, JSON.stringify(raw));
    assert.equal(raw.query.transport, 'tcp');
    assert.equal(raw.query.answerTypes.filter((t) => t === 'SRV').length, 40);
    const srv = srvOf(results, 1);
    assert.equal(srv.kind, 'targets');
    assert.deepEqual(new Set(srv.kind === 'targets' ? srv.targets.map((t) => t.onion) : []), new Set([A, B]));
  });

  it('the large signed RRset also validates through unbound over TCP', async () => {
    const [raw] = await lab.query('unbound', { udpPayloadSize: 512, lookups: [{ name: '_onion-mx._tcp.big.onionmx.example', type: 'SRV' }] });
    assert.ok(raw !== undefined && 'query' in raw, JSON.stringify(raw));
    assert.equal(raw.query.transport, 'tcp');
    assert.equal(raw.query.authenticated, true);
  });
});
