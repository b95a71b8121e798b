import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText, formatProblem } from '../../src/config/load.ts';
import { defaults } from '../../src/config/schema.ts';
import { parseDuration } from '../../src/config/duration.ts';
import { locateKey } from '../../src/config/locate.ts';

test('an empty file gives the built-in defaults', () => {
  const r = parseConfigText('', 'c.yml');
  assert.ok(r.ok);
  assert.deepEqual({ ...r.config, source: undefined }, defaults);
  assert.ok(Object.isFrozen(r.config.dns));
});

test('a full config is read into typed values', () => {
  const text = `
milter:
  listen: unix:/var/spool/postfix/onionmx/milter.sock
  socket_mode: "0660"
  mixed_routes: allow
  idle_timeout: 7210s
header:
  name: X-Onion-Route
  format: domain-list
maps:
  - /etc/onionmx-milter/pins.yml
dns:
  servers: ["127.0.0.1:5353", {address: 10.0.0.53, trust_ad: true}, "[::1]"]
  dnssec: optional
  timeout: 500ms
  deadline: 4s
cache:
  max_ttl: 1d
  serve_stale: 1h
policy:
  local_domains: [Example.ORG]
  on_lookup_failure: none
lookup:
  budget: 1s
log:
  level: debug
`;
  const r = parseConfigText(text, 'c.yml');
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  const c = r.config;
  assert.equal(c.milter.listen, 'unix:/var/spool/postfix/onionmx/milter.sock');
  assert.equal(c.milter.socketMode, 0o660);
  assert.equal(c.milter.mixedRoutes, 'allow');
  assert.equal(c.milter.idleTimeoutMs, 7_210_000);
  assert.equal(c.header.format, 'domain-list');
  assert.deepEqual(c.maps, ['/etc/onionmx-milter/pins.yml']);
  assert.deepEqual(c.dns.servers, [
    { address: '127.0.0.1', port: 5353, trustAd: false },
    { address: '10.0.0.53', port: 53, trustAd: true },
    { address: '::1', port: 53, trustAd: false },
  ]);
  assert.equal(c.dns.dnssec, 'optional');
  assert.equal(c.dns.timeoutMs, 500);
  assert.equal(c.dns.deadlineMs, 4000);
  assert.equal(c.cache.maxTtlMs, 86_400_000);
  assert.deepEqual(c.policy.localDomains, ['example.org']);
  assert.equal(c.policy.onLookupFailure, 'none');
  assert.equal(c.log.level, 'debug');
});

test('every problem is reported with its key path and line', () => {
  const text = `milter:
  listen: tcp://nowhere
  max_connections: -1
dns:
  dnssec: sometimes
  timeuot: 2s
colour: blue
`;
  const r = parseConfigText(text, 'bad.yml');
  assert.equal(r.ok, false);
  if (r.ok) return;
  const byPath = new Map(r.problems.map((p) => [p.path, p]));
  assert.equal(byPath.get('milter.listen')?.line, 2);
  assert.equal(byPath.get('milter.max_connections')?.line, 3);
  assert.equal(byPath.get('dns.dnssec')?.line, 5);
  assert.match(byPath.get('dns.timeuot')?.message ?? '', /unknown key/);
  assert.equal(byPath.get('dns.timeuot')?.line, 6);
  assert.equal(byPath.get('colour')?.line, 7);
  assert.equal(r.problems.length, 5);
  assert.match(formatProblem('bad.yml', byPath.get('dns.dnssec')!), /^bad\.yml:5: dns\.dnssec: must be one of: required, optional$/);
});

test('YAML syntax errors name their line', () => {
  const r = parseConfigText('milter:\n  listen: [unclosed\n', 'x.yml');
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.equal(r.problems.length, 1);
  assert.equal(r.problems[0]?.path, '(yaml)');
  assert.ok((r.problems[0]?.line ?? 0) >= 2);
});

test('a top level that is not a mapping is refused', () => {
  const r = parseConfigText('- a\n- b\n', 'x.yml');
  assert.equal(r.ok, false);
});

test('domain-list format cannot defer mixed routes', () => {
  const r = parseConfigText('header: {format: domain-list}\nmilter: {mixed_routes: defer}\n', 'x.yml');
  assert.equal(r.ok, false);
  const ok = parseConfigText('header: {format: domain-list}\n', 'x.yml');
  assert.ok(ok.ok);
  assert.equal(ok.config.milter.mixedRoutes, 'allow');
});

test('template format requires a template; timeout may not exceed deadline', () => {
  assert.equal(parseConfigText('header: {format: template}\n', 'x').ok, false);
  assert.equal(parseConfigText('dns: {timeout: 6s, deadline: 5s}\n', 'x').ok, false);
});

test('durations', () => {
  assert.equal(parseDuration('7210s'), 7_210_000);
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration(2), 2000);
  assert.equal(parseDuration('2'), 2000);
  assert.equal(parseDuration('1d'), 86_400_000);
  for (const bad of ['', 's', '5 parsecs', '-1s', '1x', null, {}, -3, '1h 2m']) assert.equal(parseDuration(bad), undefined, String(bad));
});

test('locateKey finds nested keys and list items', () => {
  const text = 'a:\n  b: 1\n  c:\n    - x: 1\n      y: 2\n    - x: 3\nd: 4\n';
  assert.equal(locateKey(text, ['a', 'c', 1, 'x']), 6);
  assert.equal(locateKey(text, ['a', 'c', 0, 'y']), 5);
  assert.equal(locateKey(text, ['d']), 7);
  assert.equal(locateKey(text, ['a', 'zz']), 1);
});
