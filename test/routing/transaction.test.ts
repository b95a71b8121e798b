import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TransactionRoutes, settleMessage, routeClass } from '../../src/routing/transaction.ts';
import { domainListValue, postfixValue, templateValue } from '../../src/routing/header-value.ts';
import type { Decision } from '../../src/resolve/types.ts';

const A = 'pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion';
const B = 'xa4r2iadxm55fbnqgwwi5mymqdcofiu3w6rpbtqn7b2dyn7mgwj64jyd.onion';
const route = (domain: string, onion: string): Decision => ({ kind: 'route', domain, onion, port: 25, source: 'srv', dnssec: true, ttl: 300, hops: [{ onion, port: 25 }], origin: 'x' });
const none = (domain: string): Decision => ({ kind: 'none', domain, reason: 'not-listed', ttl: 300 });
const temp = (domain: string): Decision => ({ kind: 'tempfail', domain, reason: 'servfail', ttl: 0 });
const rej = (domain: string): Decision => ({ kind: 'reject', domain, reason: 'v2 onion services no longer work in Tor' });

test('route classes: onion:port for routes, default for everything else', () => {
  assert.equal(routeClass(route('a.example', A)), `${A}:25`);
  assert.equal(routeClass(none('b.example')), 'default');
  assert.equal(routeClass(undefined), 'default');
});

test('defer: the first accepted recipient fixes the class, others get deferred', () => {
  const t = new TransactionRoutes('defer', 5, true);
  assert.equal(t.admit(route('a.example', A), true).kind, 'accept');
  assert.equal(t.admit(route('a2.example', A), true).kind, 'accept');
  assert.equal(t.admit(none('clear.example'), true).kind, 'defer');
  assert.equal(t.admit(route('b.example', B), true).kind, 'defer');
  const s = settleMessage(t, false);
  assert.equal(s.kind, 'one');
  assert.equal(s.kind === 'one' && s.route.onion, A);
  assert.equal(t.deferredCount, 2);
});

test('defer: a clearnet first recipient defers the onion ones; the message stays untagged', () => {
  const t = new TransactionRoutes('defer', 5, true);
  assert.equal(t.admit(none('clear.example'), true).kind, 'accept');
  assert.equal(t.admit(route('a.example', A), true).kind, 'defer');
  assert.equal(settleMessage(t, false).kind, 'none');
});

test('defer: after max deferrals the message falls back to default (untagged)', () => {
  const t = new TransactionRoutes('defer', 2, true);
  t.admit(route('a.example', A), true);
  assert.equal(t.admit(none('c1.example'), true).kind, 'defer');
  assert.equal(t.admit(none('c2.example'), true).kind, 'defer');
  assert.equal(t.admit(none('c3.example'), true).kind, 'accept');
  assert.equal(t.admit(none('c4.example'), true).kind, 'accept');
  assert.ok(t.mixed);
  const s = settleMessage(t, false);
  assert.equal(s.kind, 'mixed-untagged');
});

test('tempfail and reject answer the recipient at RCPT and do not fix the class', () => {
  const t = new TransactionRoutes('defer', 5, true);
  assert.equal(t.admit(temp('a.example'), true).kind, 'tempfail');
  assert.equal(t.admit(rej('bad.onion'), true).kind, 'reject');
  assert.equal(t.admit(route('b.example', B), true).kind, 'accept');
  const s = settleMessage(t, false);
  assert.equal(s.kind === 'one' && s.route.onion, B);
});

test('allow: no deferral; one-route formats leave a mixed message untagged, domain-list lists routes', () => {
  const t = new TransactionRoutes('allow', 5, true);
  t.admit(route('a.example', A), true);
  assert.equal(t.admit(none('clear.example'), true).kind, 'accept');
  assert.equal(t.admit(route('b.example', B), true).kind, 'accept');
  assert.equal(settleMessage(t, false).kind, 'mixed-untagged');
  const s = settleMessage(t, true);
  assert.equal(s.kind, 'per-domain');
  assert.deepEqual(s.kind === 'per-domain' && s.routes.map((r) => r.domain), ['a.example', 'b.example']);
});

test('local submission: nothing refused at RCPT, failures settled for the whole message at EOM', () => {
  const t = new TransactionRoutes('defer', 5, false);
  assert.equal(t.admit(route('a.example', A), true).kind, 'accept');
  assert.equal(t.admit(none('clear.example'), true).kind, 'accept');
  assert.equal(settleMessage(t, false).kind, 'mixed-untagged');
  const f = new TransactionRoutes('defer', 5, false);
  assert.equal(f.admit(temp('a.example'), true).kind, 'accept');
  assert.deepEqual(settleMessage(f, false), { kind: 'tempfail', domains: ['a.example'] });
  const r = new TransactionRoutes('defer', 5, false);
  r.admit(rej('x.onion'), true);
  assert.equal(settleMessage(r, false).kind, 'reject');
});

test('header values', () => {
  assert.equal(postfixValue('smtptor', { onion: A, port: 25 }), `smtptor:[${A}]:25`);
  assert.equal(
    domainListValue([
      { domain: 'b.example', onion: B, port: 2525 },
      { domain: 'a.example', onion: A, port: 25 },
      { domain: 'a.example', onion: A, port: 25 },
    ]),
    `a.example=${A}:25 b.example=${B}:2525`,
  );
  assert.equal(templateValue('{transport}:[{onion}]:{port} for {domain} {other}', 'tor', { domain: 'a.example', onion: A, port: 25 }), `tor:[${A}]:25 for a.example {other}`);
});
