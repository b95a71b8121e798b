// Which DNS servers count for DNSSEC, in words for the start log and `check`; the warning when
// dns.dnssec: required can never be met.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText } from '../../src/config/load.ts';
import type { Config } from '../../src/config/schema.ts';
import { dnsTrustReport } from '../../src/resolve/dns-trust.ts';

const ONION_RESOLVER = 'pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion';

function config(text: string): Config {
  const parsed = parseConfigText(text, 'c.yml');
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems));
  return parsed.config;
}

describe('DNS trust report', () => {
  it('names each server with why its AD bit counts or that it does not', () => {
    const c = config('dns:\n  servers: ["127.0.0.1:5353", "[::1]:53", {address: 192.0.2.53, trust_ad: true}, 198.51.100.1]\n');
    const r = dnsTrustReport(c, [
      { address: '127.0.0.1', port: 5353, trustAd: true },
      { address: '::1', port: 53, trustAd: true },
      { address: '192.0.2.53', port: 53, trustAd: true },
      { address: '198.51.100.1', port: 53, trustAd: false },
    ]);
    assert.deepEqual(r, {
      from: 'dns.servers',
      servers: ['127.0.0.1:5353 (AD trusted: loopback)', '[::1]:53 (AD trusted: loopback)', '192.0.2.53:53 (AD trusted: trust_ad)', '198.51.100.1:53 (AD not trusted)'],
      dnssec: 'required',
      warning: undefined,
    });
  });

  it('says where resolv.conf servers got their trust, and that an onion resolver is trusted', () => {
    assert.deepEqual(dnsTrustReport(config(''), [{ address: '192.0.2.1', port: 53, trustAd: true }]).servers, ['192.0.2.1:53 (AD trusted: resolv.conf options trust-ad)']);
    assert.equal(dnsTrustReport(config(''), [{ address: '192.0.2.1', port: 53, trustAd: true }]).from, '/etc/resolv.conf');
    const viaTor = config(`dns:\n  via_tor: true\n  servers: ["${ONION_RESOLVER}:53"]\n`);
    assert.deepEqual(dnsTrustReport(viaTor, [{ address: ONION_RESOLVER, port: 53, trustAd: true }]).servers, [`${ONION_RESOLVER}:53 (AD trusted: onion resolver)`]);
  });

  it('warns, with the fix, when DNSSEC is required and no server is trusted', () => {
    const r = dnsTrustReport(config(''), [
      { address: '192.0.2.1', port: 53, trustAd: false },
      { address: '2001:db8::1', port: 53, trustAd: false },
    ]);
    assert.match(r.warning ?? '', /^dns\.dnssec is required, but no DNS server is trusted to validate \(192\.0\.2\.1:53, \[2001:db8::1\]:53 from \/etc\/resolv\.conf/);
    assert.match(r.warning ?? '', /no SRV route is ever used: only your maps, the bundled map and \.onion recipients route/);
    assert.match(r.warning ?? '', /Fix: run a validating resolver on loopback .* trust_ad: true.* dns\.dnssec: optional, which lets anyone who can spoof your DNS/);
  });

  it('does not warn under dnssec: optional, nor when one server is trusted', () => {
    const untrusted = [{ address: '192.0.2.1', port: 53, trustAd: false }];
    assert.equal(dnsTrustReport(config('dns:\n  dnssec: optional\n'), untrusted).warning, undefined);
    assert.equal(dnsTrustReport(config(''), [...untrusted, { address: '127.0.0.1', port: 53, trustAd: true }]).warning, undefined);
  });
});
