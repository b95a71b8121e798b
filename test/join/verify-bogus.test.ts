// verifyDomain on a DNSSEC-bogus lookup (the resolver said so with an Extended DNS Error) versus a
// plain SERVFAIL: the first is a DNSSEC failure (not temporary), the second a lookup to try again.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { verifyDomain } from '../../src/join/verify.ts';
import type { OnionSrvResult } from '../../src/resolve/srv.ts';

const A = 'pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion';
const BOGUS_DETAIL = '127.0.0.1:53 answered SERVFAIL: EDE 7 (Signature Expired): signature expired';

const run = (result: OnionSrvResult, allowUnsigned = false) =>
  verifyDomain({ domain: 'example.org', expectedOnion: A, allowUnsigned, lookup: () => Promise.resolve(result), noProbeReason: '--no-probe' });

describe('verify: bogus is a DNSSEC failure, not a temporary one', () => {
  it('a bogus lookup fails the dnssec check with the EDE text and is not temporary, with or without --allow-unsigned', async () => {
    for (const allowUnsigned of [false, true]) {
      const report = await run({ kind: 'failure', reason: 'bogus', detail: BOGUS_DETAIL, ttlMs: 0 }, allowUnsigned);
      assert.equal(report.ok, false);
      assert.equal(report.temporary, false, 'a broken signature does not fix itself');
      assert.equal(report.authenticated, undefined);
      const byName = new Map(report.checks.map((c) => [c.name, c]));
      assert.equal(byName.get('srv')?.status, 'fail');
      assert.doesNotMatch(byName.get('srv')?.detail ?? '', /try again/);
      assert.equal(byName.get('dnssec')?.status, 'fail');
      assert.match(byName.get('dnssec')?.detail ?? '', new RegExp(`^DNSSEC validation failed \\(bogus\\): ${BOGUS_DETAIL.replace(/[()]/g, '\\$&')}; re-sign the zone`));
    }
  });

  it('a plain SERVFAIL stays a temporary failure, with a hint that EDE would tell bogus apart', async () => {
    const report = await run({ kind: 'failure', reason: 'servfail', detail: '127.0.0.1:53 answered SERVFAIL', ttlMs: 0 });
    assert.equal(report.ok, false);
    assert.equal(report.temporary, true);
    const srv = report.checks.find((c) => c.name === 'srv');
    assert.match(srv?.detail ?? '', /lookup failed \(servfail: 127\.0\.0\.1:53 answered SERVFAIL\); check the resolver, then try again \(.*`ede: yes`/);
    assert.equal(report.checks.find((c) => c.name === 'dnssec')?.status, 'skipped');
  });

  it('a timeout stays temporary, without the SERVFAIL hint', async () => {
    const report = await run({ kind: 'failure', reason: 'timeout', detail: 'no reply', ttlMs: 0 });
    assert.equal(report.temporary, true);
    assert.doesNotMatch(report.checks.find((c) => c.name === 'srv')?.detail ?? '', /ede/);
  });
});
