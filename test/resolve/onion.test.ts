import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isOnionName, onionFromPublicKey, validateOnion } from '../../src/resolve/onion.ts';
import type { OnionFailureKind } from '../../src/resolve/onion.ts';

// Reference vectors: rend-spec-v3 §6 examples, well-known services, and the nine v3 keys of the
// upstream OnionMX map, each with its public key and SHA3 checksum as published.
const VALID: readonly (readonly [onion: string, publicKeyHex: string])[] = [
  ['pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion', '79bcc625184b05194975c28b66b66b0469f7f6556fb1ac3189a79b40dda32f1f'],
  ['sp3k262uwy4r2k3ycr5awluarykdpag6a7y33jxop4cs2lu5uz5sseqd.onion', '93f6ad7b54b6391d2b78147a0b2e808e143780de07f1bda6ee7f052d2e9da67b'],
  ['xa4r2iadxm55fbnqgwwi5mymqdcofiu3w6rpbtqn7b2dyn7mgwj64jyd.onion', 'b8391d2003bb3bd285b035ac8eb30c80c4e2a29bb7a2f0ce0df8743c37ec3593'],
  ['2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid.onion', 'd1b38b83a83b3ed918c5bb69dd444ad56bc8d5835a914de73447474e5f02591b'],
  ['duckduckgogg42xjoc72x3sjasowoarfbgcmvfimaftt6twagswzczad.onion', '1d04a1d04a338c6e6ae970bfabee49049d6702250984ca950c01673f4ec034ad'],
  ['blackhost7pws76u6vohksdahnm6adf7riukgcmahrwt43wv2drvyxid.onion', '0ac0251dd29fdf697fd4f55c7548603b59e00cbf8a28a309803c6d3e6ed5d0e3'],
  ['llqiiswupgezsco4ux47cco3bxsaihbss5c3piefv6bhvpgfofyk7kad.onion', '5ae0844ad479899909dca5f9f109db0de4041c329745b7a085af827abcc57170'],
  ['abupq2yypwtojgupttylrbwnabmpmydsf4evb2onasmib2go23jyyhqd.onion', '0068f86b187da6e49a8f9cf0b886cd0058f660722f0950e9cd049880e8ced6d3'],
  ['asgsory2hji5qpkmgyig2nzquolu5qhsfhz2qaiixdfgivzxlhrahzyd.onion', '048d27471a3a51d83d4c36106d3730a3974ec0f229f3a80108b8ca64573759e2'],
  ['xibrfarp4uiwgjrfwbefue6kwlglxxdnfkiebbxcenm4qgg6vcnweqid.onion', 'ba0312822fe511632625b0485a13cab2ccbbdc6d2a904086e22359c818dea89b'],
  ['6powteszncqwdutlfs57n33i2zqt6jqc2wdcneaihtvrzaps3q3qtwyd.onion', 'f3dd69925968a161d26b2cbbf6ef68d6613f2602d5862690083ceb1c81f2dc37'],
  ['aj3nsqqcksrrc5cye5etjsoewz6jrygpekzwoko3q6wyxjlb3dgasfid.onion', '0276d9420254a3117458274934c9c4b67c98e0cf22b36729db87ad8ba561d8cc'],
  ['7sbw6jufrirhyltzkslhcmkik4z7yrsmbpnptyritvz5nhbk35hncsqd.onion', 'fc836f26858a227c2e7954967131485733fc464c0bdaf9e2289d73d69c2adf4e'],
  ['w5ejy7xyv4dw7jul7bycfnltircxddt7vqprcxe6uggnezlwwic72qqd.onion', 'b7489c7ef8af076fa68bf87022b5734445718e7fac1f115c9ea18cd26576b205'],
];

const FIRST = 'pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion';

const INVALID: readonly (readonly [input: string, kind: OnionFailureKind, why: string])[] = [
  ['qg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion', 'bad-checksum', 'first character changed'],
  ['pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pwaqae.onion', 'bad-version', 'version 4, checksum for 4'],
  ['aeaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaahmjqd.onion', 'bad-key', 'identity point'],
  ['w2xqozfddjxirgod5ukh2af6lx4flupdvfkjom5ffyy37fkgvod5soid.onion', 'bad-key', 'torsion component'],
  ['aiaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab3did.onion', 'bad-key', 'not a curve point'],
  ['wy6zk3pmcwiyhiao.onion', 'v2', 'old riseup MX'],
  ['ysp4gfuhnmj6b4mb.onion', 'v2', 'old immerda MX'],
  ['expyuzz4wqqyqhjn.onion', 'v2', 'old torproject.org'],
  ['blackhost5xlrhev.onion', 'v2', 'OnionMX map'],
  ['4my2dd2okjr75aho.onion', 'v2', 'OnionMX map'],
  ['cssj56utefk3wxsv.onion', 'v2', 'OnionMX map'],
  ['lloiryev7cvzszsn.onion', 'v2', 'OnionMX map'],
  ['mssatgg2rwa4aytk.onion', 'v2', 'OnionMX map'],
  ['tyiw2fzn3uckv2my.onion', 'v2', 'OnionMX map'],
  ['zq36q5rfxd3cnvd5.onion', 'v2', 'OnionMX map'],
  ['notreallyanonion.', 'not-onion', "passes onionrouter's onion\\.$ regex"],
  ['fofofmumububu.onion.', 'bad-length', 'SRV.md placeholder, 13 characters'],
  ['.', 'not-onion', 'RFC 2782 "no service" target'],
  ['', 'not-onion', 'empty'],
  ['onion', 'not-onion', 'the bare TLD'],
  ['.onion', 'not-onion', 'empty service label'],
  ['example.org', 'not-onion', 'a clearnet name'],
  ['pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion.evil', 'not-onion', 'onion not at the end'],
  ['a..pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion', 'not-onion', 'empty subdomain label'],
  ['pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion..', 'not-onion', 'two trailing dots'],
  ['pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscry.onion', 'bad-length', '55 characters'],
  ['pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscrydd.onion', 'bad-length', '57 characters'],
  ['wy6zk3pmcwiyhia1.onion', 'bad-length', '16 characters but not base32: not even a v2 name'],
];

const BAD_BASE32_CHARACTERS = ['0', '1', '8', '9', '-', '_', 'é', '\u0000', ' '];

describe('validateOnion: valid v3 vectors', () => {
  for (const [onion, keyHex] of VALID) {
    it(`accepts ${onion} with its published key`, () => {
      const result = validateOnion(onion);
      assert.ok(result.ok, JSON.stringify(result));
      assert.equal(result.onion, onion);
      assert.equal(Buffer.from(result.publicKey).toString('hex'), keyHex);
    });
  }

  it('normalises case and one trailing root dot', () => {
    for (const input of [FIRST.toUpperCase(), `${FIRST}.`, 'Pg6MMjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.OnIoN.']) {
      const result = validateOnion(input);
      assert.ok(result.ok, input);
      assert.equal(result.onion, FIRST);
    }
  });

  it('drops subdomain labels and answers the service host', () => {
    for (const input of [`sub.${FIRST}`, `a.b.${FIRST}.`, `MX.${FIRST.toUpperCase()}`]) {
      const result = validateOnion(input);
      assert.ok(result.ok, input);
      assert.equal(result.onion, FIRST);
    }
  });

  it('hands out a fresh key copy per call', () => {
    const a = validateOnion(FIRST);
    const b = validateOnion(FIRST);
    assert.ok(a.ok && b.ok);
    a.publicKey.fill(0);
    assert.notEqual(b.publicKey[0], 0);
  });
});

describe('validateOnion: invalid vectors', () => {
  for (const [input, kind, why] of INVALID) {
    it(`refuses ${JSON.stringify(input)} as ${kind} (${why})`, () => {
      const result = validateOnion(input);
      assert.equal(result.ok, false);
      assert.ok(!result.ok);
      assert.equal(result.kind, kind);
      assert.ok(result.reason.length > 0);
    });
  }

  it('gives v2 names the documented reason', () => {
    const result = validateOnion('wy6zk3pmcwiyhiao.onion');
    assert.deepEqual(result, { ok: false, kind: 'v2', reason: 'v2 onion services no longer work in Tor' });
  });

  it('refuses each character outside the base32 alphabet, naming its offset', () => {
    for (const bad of BAD_BASE32_CHARACTERS) {
      const input = `${FIRST.slice(0, 10)}${bad}${FIRST.slice(11)}`;
      const result = validateOnion(input);
      assert.ok(!result.ok, JSON.stringify(input));
      assert.equal(result.kind, 'bad-base32', JSON.stringify(input));
      assert.match(result.reason, /offset 10/);
    }
  });

  it('never throws and never accepts non-strings', () => {
    for (const junk of [undefined, null, 42, {}, []] as unknown[]) {
      const result = validateOnion(junk as string);
      assert.equal(result.ok, false);
    }
  });

  it('never throws on arbitrary strings and accepts only 56-character service labels', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 120 }), (input) => {
        const result = validateOnion(input);
        if (result.ok) assert.equal(result.onion.length, 56 + '.onion'.length);
      }),
    );
  });

  it('rejects every single-character corruption of a valid address', () => {
    const label = FIRST.slice(0, 56);
    for (let i = 0; i < 56; i++) {
      const replacement = label[i] === 'a' ? 'b' : 'a';
      const mutated = `${label.slice(0, i)}${replacement}${label.slice(i + 1)}.onion`;
      assert.equal(validateOnion(mutated).ok, false, `offset ${i}`);
    }
  });
});

describe('onionFromPublicKey', () => {
  it('re-encodes every published key to its address', () => {
    for (const [onion, keyHex] of VALID) {
      assert.equal(onionFromPublicKey(Buffer.from(keyHex, 'hex')), onion);
    }
  });

  it('round-trips random keys through validation (checksum and version always agree)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (key) => {
        const result = validateOnion(onionFromPublicKey(key));
        if (result.ok) assert.deepEqual(result.publicKey, key);
        else assert.equal(result.kind, 'bad-key');
      }),
      { numRuns: 200 },
    );
  });
});

describe('isOnionName', () => {
  it('recognises any name in the .onion domain, whatever its shape', () => {
    for (const name of [FIRST, `${FIRST}.`, 'x.onion', 'fofofmumububu.ONION.', 'onion', 'onion.', 'a.b.c.onion']) {
      assert.equal(isOnionName(name), true, name);
    }
  });

  it('refuses names outside it', () => {
    for (const name of ['example.org', 'notreallyanonion.', 'onion.example', 'xonion', '', '.']) {
      assert.equal(isOnionName(name), false, name);
    }
    assert.equal(isOnionName(undefined as unknown as string), false);
  });
});
