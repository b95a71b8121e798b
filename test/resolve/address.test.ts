import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { normaliseDomain, parseRecipient } from '../../src/resolve/address.ts';
import type { DomainFailureKind, RecipientFailureKind } from '../../src/resolve/address.ts';

const ONION = 'pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion';

type Expected = { domain: string; localPart?: string; sourceRoute?: string[] };

const PARSES: readonly (readonly [input: string, expected: Expected])[] = [
  ['example.org', { domain: 'example.org' }],
  ['Example.ORG.', { domain: 'example.org' }],
  ['  example.org\t', { domain: 'example.org' }],
  ['user@example.org', { domain: 'example.org', localPart: 'user' }],
  ['<user@example.org>', { domain: 'example.org', localPart: 'user' }],
  ['  < User@EXAMPLE.org. >  ', { domain: 'example.org', localPart: 'User' }],
  ['first.last+tag@sub.example.org', { domain: 'sub.example.org', localPart: 'first.last+tag' }],
  ['"a@b"@example.org', { domain: 'example.org', localPart: '"a@b"' }],
  ['"a\\"@b"@example.org', { domain: 'example.org', localPart: '"a\\"@b"' }],
  ['"john doe"@example.org', { domain: 'example.org', localPart: '"john doe"' }],
  ['"@"@example.org', { domain: 'example.org', localPart: '"@"' }],
  ['<@relay.example,@hop.example:user@example.org>', { domain: 'example.org', localPart: 'user', sourceRoute: ['relay.example', 'hop.example'] }],
  ['@a.example:user@example.org', { domain: 'example.org', localPart: 'user', sourceRoute: ['a.example'] }],
  // IDN: U-labels become A-labels; A-labels stay; both forms agree.
  ['user@Bücher.example', { domain: 'xn--bcher-kva.example', localPart: 'user' }],
  ['user@xn--bcher-kva.example', { domain: 'xn--bcher-kva.example', localPart: 'user' }],
  ['user@XN--BCHER-KVA.EXAMPLE', { domain: 'xn--bcher-kva.example', localPart: 'user' }],
  ['faß.de', { domain: 'xn--fa-hia.de' }],
  ['例え.テスト', { domain: 'xn--r8jz45g.xn--zckzah' }],
  ['bücher.example。', { domain: 'xn--bcher-kva.example' }],
  ['ｅｘａｍｐｌｅ.com', { domain: 'example.com' }],
  ['jürgen@münchen.de', { domain: 'xn--mnchen-3ya.de', localPart: 'jürgen' }],
  [`alice@${ONION.toUpperCase()}.`, { domain: ONION, localPart: 'alice' }],
  ['localhost', { domain: 'localhost' }],
  ['a-b.c-d.example', { domain: 'a-b.c-d.example' }],
  ['123.example', { domain: '123.example' }],
  [`${'a'.repeat(63)}.example`, { domain: `${'a'.repeat(63)}.example` }],
];

const REFUSALS: readonly (readonly [input: string, kind: RecipientFailureKind, pattern?: RegExp])[] = [
  ['', 'empty'],
  ['   ', 'empty'],
  ['<>', 'empty'],
  ['< >', 'empty'],
  ['user@[192.0.2.1]', 'ip-literal'],
  ['<user@[IPv6:2001:db8::1]>', 'ip-literal'],
  ['[192.0.2.1]', 'ip-literal'],
  ['user@192.0.2.1', 'ip-literal'],
  ['<user@example.org', 'syntax', /offset 0/],
  ['user@example.org>', 'syntax', /offset 16/],
  ['"unterminated@example.org', 'syntax', /offset 0 is not closed/],
  ['"quoted-only"', 'syntax', /no '@domain'/],
  ['@example.org', 'syntax', /no ':'/],
  ['@a,b:user@example.org', 'syntax', /offset 3/],
  ['@a.example:example.org', 'syntax', /must end in a mailbox/],
  ['@example.org', 'syntax'],
  ['a@b@example.org', 'syntax', /'@' at offset 1 must be quoted/],
  ['john doe@example.org', 'syntax', /offset 4/],
  ['us\u0000er@example.org', 'syntax', /control character/],
  ['Name <user@example.org>', 'syntax'],
  ['user@', 'bad-domain', /empty domain/],
  ['user@.', 'bad-domain'],
  ['user@example..org', 'bad-domain', /empty label at offset 8/],
  ['user@.example.org', 'bad-domain', /empty label at offset 0/],
  ['user@example.org..', 'bad-domain'],
  ['user@-example.org', 'bad-domain', /starts or ends with '-'/],
  ['user@example-.org', 'bad-domain'],
  ['user@ex_ample.org', 'bad-domain', /'_' at offset 2/],
  ['user@exa mple.org', 'bad-domain', /' ' at offset 3/],
  ['example.org/path', 'bad-domain', /'\/' at offset 11/],
  ['user@ex%41mple.org', 'bad-domain', /'%'/],
  ['bü%41cher.example', 'bad-domain', /'%' at offset 2/],
  ['user@xn--zz.example', 'bad-domain', /invalid A-label/],
  ['user@0x7f.1', 'bad-domain', /all digits/],
  ['user@bücher.1', 'bad-domain'],
  [`${'a'.repeat(64)}.example`, 'bad-domain', /64 characters/],
  [`${'abcdefghi.'.repeat(26)}example`, 'bad-domain', /at most 253/],
  ['x'.repeat(2000), 'too-long'],
];

describe('parseRecipient: accepted forms', () => {
  for (const [input, expected] of PARSES) {
    it(`parses ${JSON.stringify(input)}`, () => {
      assert.deepEqual(parseRecipient(input), { ok: true, ...expected });
    });
  }
});

describe('parseRecipient: refusals name the problem', () => {
  for (const [input, kind, pattern] of REFUSALS) {
    it(`refuses ${JSON.stringify(input.length > 60 ? `${input.slice(0, 57)}...` : input)} as ${kind}`, () => {
      const result = parseRecipient(input);
      assert.ok(!result.ok, JSON.stringify(result));
      assert.equal(result.kind, kind, result.reason);
      if (pattern !== undefined) assert.match(result.reason, pattern);
    });
  }

  it('answers non-string input without throwing', () => {
    for (const junk of [undefined, null, 7, {}, ['a@b.c']] as unknown[]) {
      assert.equal(parseRecipient(junk as string).ok, false);
    }
  });
});

describe('parseRecipient: properties', () => {
  it('never throws on arbitrary input (any code units, including lone surrogates)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (input) => {
        const result = parseRecipient(input);
        assert.equal(typeof result.ok, 'boolean');
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws on address-shaped input built from the tricky characters', () => {
    const tricky = fc.constantFrom('@', '"', '\\', '<', '>', '[', ']', ':', ',', '.', ' ', 'a', 'Z', 'ü', '-', '_', '%', '。', '\u0000');
    fc.assert(
      fc.property(fc.array(tricky, { maxLength: 40 }), (chars) => {
        const result = parseRecipient(chars.join(''));
        if (result.ok) assert.equal(normaliseDomain(result.domain).ok, true);
      }),
      { numRuns: 3000 },
    );
  });

  it('every accepted domain is already normal: normalising again changes nothing', () => {
    fc.assert(
      fc.property(fc.domain(), fc.boolean(), fc.boolean(), (domain, shout, rooted) => {
        const input = `${shout ? domain.toUpperCase() : domain}${rooted ? '.' : ''}`;
        const result = normaliseDomain(input);
        assert.ok(result.ok, `${input}: ${result.ok ? '' : result.reason}`);
        assert.equal(result.domain, domain.toLowerCase());
        assert.deepEqual(normaliseDomain(result.domain), result);
      }),
      { numRuns: 1000 },
    );
  });

  it('user@domain and <user@domain> agree with the bare domain', () => {
    fc.assert(
      fc.property(fc.domain(), (domain) => {
        const bare = parseRecipient(domain);
        assert.ok(bare.ok);
        assert.deepEqual(parseRecipient(`<x@${domain}>`), { ok: true, domain: bare.domain, localPart: 'x' });
      }),
      { numRuns: 300 },
    );
  });
});

describe('normaliseDomain', () => {
  it('returns already-normal names unchanged', () => {
    for (const name of ['example.org', 'a.b.c', ONION, 'xn--bcher-kva.example']) {
      assert.deepEqual(normaliseDomain(name), { ok: true, domain: name });
    }
  });

  const FAILURES: readonly (readonly [input: string, kind: DomainFailureKind])[] = [
    ['', 'empty'],
    ['.', 'empty'],
    ['a..b', 'bad-label'],
    ['ex_ample.org', 'bad-character'],
    ['exa mple.org', 'bad-character'],
    ['1.2.3.4', 'numeric-tld'],
    ['xn--zz.example', 'bad-idn'],
    ['bü\u0085cher.example', 'bad-character'],
    [`${'a.'.repeat(127)}ab`, 'too-long'],
  ];
  for (const [input, kind] of FAILURES) {
    it(`refuses ${JSON.stringify(input.slice(0, 40))} as ${kind}`, () => {
      const result = normaliseDomain(input);
      assert.ok(!result.ok);
      assert.equal(result.kind, kind, result.reason);
    });
  }

  it('accepts exactly 253 characters and refuses 254', () => {
    const at253 = `${'a'.repeat(61)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}`;
    assert.equal(at253.length, 253);
    assert.equal(normaliseDomain(at253).ok, true);
    assert.equal(normaliseDomain(`${at253}.`).ok, true, 'a trailing root dot does not count');
    assert.equal(normaliseDomain(`e${at253}`).ok, false);
  });
});
