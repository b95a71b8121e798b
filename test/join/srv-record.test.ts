import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSrvRecord, parseDecimal, SRV_DEFAULTS } from '../../src/join/srv-record.ts';

const A = 'aj3nsqqcksrrc5cye5etjsoewz6jrygpekzwoko3q6wyxjlb3dgasfid.onion';
const B = 'llqiiswupgezsco4ux47cco3bxsaihbss5c3piefv6bhvpgfofyk7kad.onion';
/** A with one character changed: still base32 and 56 long, but the checksum no longer matches. */
const A_TYPO = A.replace('aj3n', 'aj3m');

const request = (over: Partial<Parameters<typeof buildSrvRecord>[0]> = {}): Parameters<typeof buildSrvRecord>[0] => ({
  domain: 'example.org',
  onions: [A],
  ...SRV_DEFAULTS,
  ...over,
});

describe('buildSrvRecord', () => {
  test('renders the OnionMX SRV.md line with the defaults', () => {
    const r = buildSrvRecord(request());
    assert.ok(r.ok);
    assert.deepEqual(r.lines.map((l) => l.text), [`_onion-mx._tcp.example.org. 3600 IN SRV 0 5 25 ${A}.`]);
    assert.deepEqual(r.notes, []);
  });

  test('normalises the domain (case, trailing dot, IDN) and the onion (case, trailing dot, vhost label)', () => {
    const r = buildSrvRecord(request({ domain: 'Bücher.Example.', onions: [`mail.${A.toUpperCase()}.`], port: 2525, ttl: 7200, priority: 10, weight: 1 }));
    assert.ok(r.ok);
    assert.equal(r.domain, 'xn--bcher-kva.example');
    assert.deepEqual(r.lines.map((l) => l.text), [`_onion-mx._tcp.xn--bcher-kva.example. 7200 IN SRV 10 1 2525 ${A}.`]);
    assert.equal(r.notes.length, 1);
    assert.match(r.notes[0] ?? '', /published as its service host/);
  });

  test('one line per onion, and a note about weight 0 on several records', () => {
    const r = buildSrvRecord(request({ onions: [A, B], weight: 0 }));
    assert.ok(r.ok);
    assert.deepEqual(r.lines.map((l) => l.target), [`${A}.`, `${B}.`]);
    assert.ok(r.notes.some((n) => n.includes('weight 0')));
  });

  const refusals: [string, Partial<Parameters<typeof buildSrvRecord>[0]>, 'usage' | 'data', RegExp][] = [
    ['a v2 onion', { onions: ['abcdefghijklmnop.onion'] }, 'data', /invalid onion 'abcdefghijklmnop\.onion': v2 onion services no longer work/],
    ['a mistyped onion', { onions: [A_TYPO] }, 'data', /checksum mismatch/],
    ['a clearnet host as onion', { onions: ['mx.example.org'] }, 'data', /does not end in \.onion/],
    ['the root "." as onion', { onions: ['.'] }, 'data', /invalid onion '\.'/],
    ['an onion as the domain', { domain: A }, 'data', /is an \.onion name/],
    ['an invalid domain', { domain: 'exa mple.org' }, 'data', /invalid domain/],
    ['the same onion twice', { onions: [A, A.toUpperCase()] }, 'data', /given twice/],
    ['port 0', { port: 0 }, 'usage', /--port must be an integer from 1 to 65535, got 0/],
    ['port 65536', { port: 65536 }, 'usage', /--port/],
    ['a TTL over 2^31-1', { ttl: 2 ** 31 }, 'usage', /--ttl/],
    ['a negative priority', { priority: -1 }, 'usage', /--priority/],
    ['an unparsable weight', { weight: Number.NaN }, 'usage', /--weight must be an integer from 0 to 65535, got NaN/],
    ['no onion', { onions: [] }, 'usage', /no onion given/],
  ];
  for (const [name, over, kind, reason] of refusals) {
    test(`refuses ${name} with the reason`, () => {
      const r = buildSrvRecord(request(over));
      assert.ok(!r.ok);
      assert.equal(r.kind, kind);
      assert.match(r.reason, reason);
    });
  }

  test('parseDecimal accepts plain digits only', () => {
    assert.equal(parseDecimal('25'), 25);
    assert.equal(parseDecimal('0'), 0);
    for (const bad of ['', ' 25', '-1', '+1', '1e3', '0x19', '2.5', '12345678901']) assert.ok(Number.isNaN(parseDecimal(bad)), bad);
  });
});
