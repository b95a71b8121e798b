// user:/group: and the per-listener socket keys (socket_owner, socket_group, socket_mode) that
// every section with listeners takes; what a section leaves unset is the milter's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText } from '../../src/config/load.ts';
import type { Config } from '../../src/config/schema.ts';

function load(text: string): Config {
  const r = parseConfigText(text, 'c.yml');
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  return r.config;
}

const access = (s: Config['milter'] | Config['lookup']) => ({ owner: s.socketOwner, group: s.socketGroup, mode: s.socketMode });

test('defaults: no user, sockets 0660 with the daemon user and group, lookup as milter', () => {
  const c = load('{}');
  assert.equal(c.user, undefined);
  assert.equal(c.group, undefined);
  assert.deepEqual(access(c.milter), { owner: undefined, group: undefined, mode: 0o660 });
  assert.deepEqual(access(c.lookup), { owner: undefined, group: undefined, mode: 0o660 });
});

test('user: and group: take names or numeric ids', () => {
  assert.deepEqual([load('user: onionmx\ngroup: onionmx').user, load('user: onionmx').group], ['onionmx', undefined]);
  const c = load('user: 998\ngroup: 105');
  assert.deepEqual([c.user, c.group], ['998', '105']);
});

test('the lookup servers inherit the milter socket settings unless they set their own', () => {
  const inherited = load('milter:\n  socket_owner: onionmx\n  socket_group: postfix\n  socket_mode: "0640"\n');
  assert.deepEqual(access(inherited.lookup), { owner: 'onionmx', group: 'postfix', mode: 0o640 });
  const own = load('milter:\n  socket_group: postfix\nlookup:\n  socket_group: 122\n  socket_mode: "0600"\n');
  assert.deepEqual(access(own.milter), { owner: undefined, group: 'postfix', mode: 0o660 });
  assert.deepEqual(access(own.lookup), { owner: undefined, group: '122', mode: 0o600 });
});

test('a bad mode or owner is a problem at its own key path', () => {
  const r = parseConfigText('lookup:\n  socket_mode: rw\n  socket_owner: []\n', 'c.yml');
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.deepEqual(
    r.problems.map((p) => [p.path, p.line]),
    [
      ['lookup.socket_mode', 2],
      ['lookup.socket_owner', 3],
    ],
  );
});
