import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Resolver, type SrvOutcome, type StaticSource, type StaticLookup } from '../../src/resolve/resolver.ts';

// Real v3 onions from the upstream map (they pass full validation).
const A = 'aj3nsqqcksrrc5cye5etjsoewz6jrygpekzwoko3q6wyxjlb3dgasfid.onion';
const B = 'llqiiswupgezsco4ux47cco3bxsaihbss5c3piefv6bhvpgfofyk7kad.onion';

function mapOf(entries: Record<string, StaticLookup>): StaticSource {
  return { lookupNormalised: (d) => entries[d] ?? { kind: 'none' } };
}

function srvOf(answers: Record<string, SrvOutcome>) {
  const calls: string[] = [];
  return {
    calls,
    cached: (): SrvOutcome | undefined => undefined,
    lookup: (d: string): Promise<SrvOutcome> => {
      calls.push(d);
      return Promise.resolve(answers[d] ?? { kind: 'nxdomain', ttlMs: 60_000 });
    },
  };
}

const pin = (onion: string, origin = 'pins.yml:3'): StaticLookup => ({ kind: 'route', onion, port: 25, origin });
const targets = (onion: string, authenticated: boolean): SrvOutcome => ({ kind: 'targets', targets: [{ onion, port: 2525 }], authenticated, ttlMs: 300_000, origin: '_onion-mx._tcp.x' });

test('operator pins win over everything and need no DNS', async () => {
  const srv = srvOf({ 'a.example': targets(B, true) });
  const r = new Resolver({ operatorMaps: mapOf({ 'a.example': pin(A) }), srv, dnssec: 'required' });
  const d = await r.resolve('User@A.Example.');
  assert.equal(d.kind, 'route');
  assert.equal(d.kind === 'route' && d.onion, A);
  assert.equal(d.kind === 'route' && d.source, 'static');
  assert.deepEqual(srv.calls, []);
});

test('an authenticated SRV answer beats the bundled map; the bundled map beats an unauthenticated one', async () => {
  const srv = srvOf({ 'a.example': targets(B, true), 'b.example': targets(B, false) });
  const bundled = mapOf({ 'a.example': pin(A, 'bundled:1'), 'b.example': pin(A, 'bundled:2') });
  const r = new Resolver({ operatorMaps: mapOf({}), bundledMap: bundled, srv, dnssec: 'optional' });
  const a = await r.resolve('a.example');
  assert.deepEqual(a.kind === 'route' && [a.onion, a.port, a.source, a.dnssec], [B, 2525, 'srv', true]);
  const b = await r.resolve('b.example');
  assert.deepEqual(b.kind === 'route' && [b.onion, b.source], [A, 'static']);
});

test('unauthenticated SRV routes only under dnssec: optional', async () => {
  const srv = srvOf({ 'u.example': targets(B, false) });
  const required = new Resolver({ operatorMaps: mapOf({}), srv, dnssec: 'required' });
  const d1 = await required.resolve('u.example');
  assert.deepEqual(d1.kind === 'none' && d1.reason, 'unauthenticated');
  const optional = new Resolver({ operatorMaps: mapOf({}), srv, dnssec: 'optional' });
  const d2 = await optional.resolve('u.example');
  assert.deepEqual(d2.kind === 'route' && [d2.onion, d2.dnssec], [B, false]);
});

test('a DNS failure tempfails, or answers none (then bundled) under on_lookup_failure: none', async () => {
  const fail: SrvOutcome = { kind: 'failure', reason: 'servfail', detail: 'SERVFAIL from 127.0.0.1:53', ttlMs: 0 };
  const srv = srvOf({ 'f.example': fail, 'g.example': fail });
  const bundled = mapOf({ 'g.example': pin(A, 'bundled:9') });
  const strict = new Resolver({ operatorMaps: mapOf({}), bundledMap: bundled, srv, dnssec: 'required' });
  assert.deepEqual(await strict.resolve('f.example'), { kind: 'tempfail', domain: 'f.example', reason: 'servfail', detail: 'SERVFAIL from 127.0.0.1:53', ttl: 0 });
  assert.equal((await strict.resolve('g.example')).kind, 'tempfail');
  const lax = new Resolver({ operatorMaps: mapOf({}), bundledMap: bundled, srv, dnssec: 'required', onLookupFailure: 'none' });
  assert.equal((await lax.resolve('f.example')).kind, 'none');
  assert.equal((await lax.resolve('g.example')).kind, 'route');
});

test('.onion recipients route to themselves or are rejected, never looked up', async () => {
  const srv = srvOf({});
  const r = new Resolver({ operatorMaps: mapOf({}), srv, dnssec: 'required' });
  const d = await r.resolve(`user@sub.${A.toUpperCase()}`);
  assert.deepEqual(d.kind === 'route' && [d.onion, d.source], [A, 'onion-domain']);
  const v2 = await r.resolve('user@abcdefghijklmnop.onion');
  assert.equal(v2.kind, 'reject');
  assert.match(v2.kind === 'reject' ? v2.reason : '', /v2/);
  const broken = await r.resolve(`user@${A.replace('aj3', 'aj4')}`);
  assert.equal(broken.kind, 'reject');
  assert.deepEqual(srv.calls, []);
});

test('local and ignored domains, conflicts, invalid input, dot and no-onion targets', async () => {
  const srv = srvOf({
    'dot.example': { kind: 'no-service', authenticated: true, ttlMs: 60_000 },
    'clear.example': { kind: 'no-onion-target', authenticated: true, ttlMs: 60_000, detail: 'mx.clear.example is not an onion' },
  });
  const r = new Resolver({
    operatorMaps: mapOf({ 'c.example': { kind: 'conflict', places: ['a.yml:1', 'b.yml:4'] } }),
    bundledMap: mapOf({ 'dot.example': pin(A) }),
    srv,
    dnssec: 'required',
    localDomains: ['mine.example', '.internal.example'],
    ignoreDomains: ['skip.example'],
  });
  assert.deepEqual((await r.resolve('mine.example')).kind === 'none' && (await r.resolve('mine.example')), { kind: 'none', domain: 'mine.example', reason: 'local-domain', ttl: 300 });
  assert.equal(((await r.resolve('a.b.internal.example')) as { reason: string }).reason, 'local-domain');
  assert.equal(((await r.resolve('skip.example')) as { reason: string }).reason, 'ignored-domain');
  const c = await r.resolve('c.example');
  assert.equal(c.kind, 'tempfail');
  assert.match(c.kind === 'tempfail' ? c.detail ?? '' : '', /a\.yml:1 and b\.yml:4/);
  assert.equal(((await r.resolve('dot.example')) as { reason: string }).reason, 'no-service');
  assert.equal(((await r.resolve('clear.example')) as { reason: string }).reason, 'no-onion-target');
  for (const bad of ['', '@', 'user@', 'a@[127.0.0.1]', 'x'.repeat(300), 'no spaces allowed.example', '\u0000']) {
    const d = await r.resolve(bad);
    assert.equal(d.kind, 'none', bad);
  }
  assert.deepEqual(srv.calls.sort(), ['clear.example', 'dot.example']);
});

test('a throwing SRV source becomes tempfail, never an exception', async () => {
  const r = new Resolver({
    operatorMaps: mapOf({}),
    srv: { cached: () => undefined, lookup: () => Promise.reject(new Error('boom')) },
    dnssec: 'required',
  });
  const d = await r.resolve('x.example');
  assert.equal(d.kind, 'tempfail');
});

test('peekDomain answers without I/O when it can', () => {
  let cached: SrvOutcome | undefined = undefined;
  const r = new Resolver({ operatorMaps: mapOf({ 'p.example': pin(A) }), srv: { cached: () => cached, lookup: () => Promise.reject(new Error('no I/O expected')) }, dnssec: 'required' });
  assert.equal(r.peekDomain('p.example')?.kind, 'route');
  assert.equal(r.peekDomain('q.example'), undefined);
  cached = targets(B, true);
  assert.equal(r.peekDomain('q.example')?.kind, 'route');
});

test('peek takes an address like resolve and answers only what needs no I/O', async () => {
  const srv = srvOf({ 'q.example': targets(B, true) });
  let cached: SrvOutcome | undefined = undefined;
  const r = new Resolver({ operatorMaps: mapOf({ 'p.example': pin(A) }), srv: { cached: () => cached, lookup: srv.lookup }, dnssec: 'required' });
  assert.deepEqual(r.peek('"Some User"@P.Example.'), await r.resolve('"Some User"@P.Example.'));
  assert.equal(r.peek('<u@q.example>'), undefined);
  assert.deepEqual(srv.calls, [], 'peek never looks anything up');
  cached = targets(B, true);
  assert.deepEqual(r.peek('<u@q.example>'), await r.resolveDomain('q.example'));
  const bad = r.peek('no domain here');
  assert.equal(bad?.kind, 'none');
  assert.equal(bad.kind === 'none' && bad.reason, 'invalid-input');
});
