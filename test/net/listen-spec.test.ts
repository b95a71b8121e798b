import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/errors.ts';
import { formatListenTarget, listenTarget, parseListenSpec } from '../../src/net/listen-spec.ts';

describe('listen specs', () => {
  it('parses Postfix and Sendmail forms', () => {
    const cases = [
      ['inet:127.0.0.1:8895', { kind: 'tcp', host: '127.0.0.1', port: 8895 }],
      ['inet:[::1]:8895', { kind: 'tcp', host: '::1', port: 8895 }],
      ['inet:localhost:10025', { kind: 'tcp', host: 'localhost', port: 10025 }],
      ['inet:8895', { kind: 'tcp', host: '127.0.0.1', port: 8895 }],
      ['inet:8895@127.0.0.1', { kind: 'tcp', host: '127.0.0.1', port: 8895 }],
      ['inet6:8895@::1', { kind: 'tcp', host: '::1', port: 8895 }],
      ['inet6:8895@[::1]', { kind: 'tcp', host: '::1', port: 8895 }],
      ['inet:0@localhost', { kind: 'tcp', host: 'localhost', port: 0 }],
      ['unix:/run/onionmx/milter.sock', { kind: 'unix', path: '/run/onionmx/milter.sock' }],
      ['local:/var/spool/postfix/onionmx/m.sock', { kind: 'unix', path: '/var/spool/postfix/onionmx/m.sock' }],
      ['LOCAL:rel.sock', { kind: 'unix', path: 'rel.sock' }],
    ] as const;
    for (const [spec, want] of cases) assert.deepEqual(parseListenSpec(spec), { ok: true, target: want }, spec);
  });

  it('rejects bad specs with a reason naming the spec', () => {
    for (const spec of ['', '8895', 'tcp:1.2.3.4:25', 'inet:1.2.3.4:', 'inet:1.2.3.4:65536', 'inet:1.2.3.4:-1', 'inet:::1:25', 'inet:[::1]25', 'inet6:25@127.0.0.1', 'unix:', 'inet:25@bad host', 'inet:[1.2.3]:25x', 'inet:[zz::1]:1']) {
      const r = parseListenSpec(spec);
      assert.equal(r.ok, false, spec);
      if (!r.ok) assert.match(r.reason, /listen spec/);
    }
    assert.throws(() => listenTarget('bogus', 'milter.listen'), (e: unknown) => e instanceof ConfigError && e.where === 'milter.listen');
  });

  it('formats canonically', () => {
    assert.equal(formatListenTarget({ kind: 'tcp', host: '::1', port: 1 }), 'inet:[::1]:1');
    assert.equal(formatListenTarget({ kind: 'tcp', host: '127.0.0.1', port: 2 }), 'inet:127.0.0.1:2');
    assert.equal(formatListenTarget({ kind: 'unix', path: '/x' }), 'unix:/x');
  });
});
