import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseResolvConf, isLoopbackAddress } from '../../../src/resolve/dns/resolv-conf.ts';

describe('parseResolvConf', () => {
  it('reads IPv4 and IPv6 nameservers, ignoring comments, junk and zone ids', () => {
    const conf = parseResolvConf([
      '# generated',
      'search example.org',
      'nameserver 127.0.0.53   # systemd-resolved',
      'nameserver fe80::1%eth0',
      'nameserver not-an-ip',
      '; nameserver 9.9.9.9',
      'nameserver',
      '\tnameserver\t::1',
    ].join('\n'));
    assert.deepEqual(conf.servers, [
      { address: '127.0.0.53', port: 53, trustAd: true },
      { address: 'fe80::1', port: 53, trustAd: false },
      { address: '::1', port: 53, trustAd: true },
    ]);
    assert.equal(conf.ignored.length, 2);
    assert.match(conf.ignored[0] ?? '', /^line 5:/);
  });

  it('keeps at most three nameservers, like glibc', () => {
    const conf = parseResolvConf('nameserver 10.0.0.1\nnameserver 10.0.0.2\nnameserver 10.0.0.3\nnameserver 10.0.0.4\n');
    assert.equal(conf.servers.length, 3);
    assert.match(conf.ignored[0] ?? '', /^line 4: more than 3/);
  });

  it('honours timeout:, attempts: and trust-ad', () => {
    const conf = parseResolvConf('nameserver 10.0.0.1\noptions edns0 timeout:3 attempts:4 trust-ad rotate timeout:x\r\n');
    assert.equal(conf.attemptTimeoutMs, 3000);
    assert.equal(conf.attempts, 4);
    assert.deepEqual(conf.servers, [{ address: '10.0.0.1', port: 53, trustAd: true }]);
  });

  it('gives an empty list for an empty or binary file', () => {
    assert.deepEqual(parseResolvConf('').servers, []);
    assert.deepEqual(parseResolvConf('\u0000\u0001\ufffd nameserver\n').servers, []);
  });
});

describe('isLoopbackAddress (whose AD bit we trust by default)', () => {
  for (const a of ['127.0.0.1', '127.1.2.3', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) {
    it(`${a} is loopback`, () => { assert.equal(isLoopbackAddress(a), true); });
  }
  for (const a of ['128.0.0.1', '10.0.0.53', '::2', 'fe80::1', '::ffff:10.0.0.1', 'localhost', '']) {
    it(`${JSON.stringify(a)} is not`, () => { assert.equal(isLoopbackAddress(a), false); });
  }
});
