import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseConfigText } from '../../src/config/load.ts';
import { defaults } from '../../src/config/schema.ts';

const EXAMPLE = fileURLToPath(new URL('../../../examples/config.yml', import.meta.url));

test('examples/config.yml is valid and spells out the defaults it claims', () => {
  const r = parseConfigText(readFileSync(EXAMPLE, 'utf8'), EXAMPLE);
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  const c = r.config;
  assert.equal(c.milter.listen, 'unix:/var/spool/postfix/onionmx/milter.sock');
  assert.equal(c.milter.submissionListen, 'unix:/var/spool/postfix/onionmx/submission.sock');
  assert.equal(c.milter.socketMode, 0o660);
  assert.equal(c.dns.dnssec, 'required');
  assert.equal(c.header.format, 'postfix');
  assert.equal(c.policy.onLookupFailure, 'tempfail');
  // Postfix hands onion mail to the relay: the header and the lookup answers name its lmtp
  // transport and socket as examples/postfix does.
  assert.equal(c.header.transport, 'onionrelay');
  assert.equal(c.relay.listen, 'unix:/var/spool/postfix/onionmx/relay.sock');
  assert.equal(c.relay.postfixNexthop, 'unix:/onionmx/relay.sock');
  // The rest of the relay block spells out every default. Its socket access is inherited from the
  // milter's (socket_group: postfix in the example).
  assert.deepEqual(c.relay, { ...defaults.relay, listen: c.relay.listen, postfixNexthop: c.relay.postfixNexthop, socketGroup: 'postfix' });
});

test('examples/postfix: the FILTER of header mode and the lookup answer name the same relay nexthop', () => {
  const r = parseConfigText(readFileSync(EXAMPLE, 'utf8'), EXAMPLE);
  assert.ok(r.ok);
  const nexthop = `${r.config.header.transport}:${r.config.relay.postfixNexthop ?? ''}`;
  const checks = readFileSync(fileURLToPath(new URL('../../../examples/postfix/onion_milter_header_checks', import.meta.url)), 'utf8');
  const rule = checks.split('\n').find((l) => l.startsWith('/^X-Onion-Route:'));
  assert.ok(rule?.includes(`\\s*${r.config.header.transport}:\\[`), rule);
  assert.ok(rule?.endsWith(` FILTER ${nexthop}`) === true, rule);
  const master = readFileSync(fileURLToPath(new URL('../../../examples/postfix/master.cf', import.meta.url)), 'utf8');
  assert.match(master, new RegExp(`^${r.config.header.transport} +unix +- +- +y +- +- +lmtp$`, 'm'));
  // The lmtp client is chrooted into the queue directory: the daemon's socket is the nexthop's path under it.
  assert.equal(r.config.relay.listen, `unix:/var/spool/postfix${(r.config.relay.postfixNexthop ?? '').slice('unix:'.length)}`);
});
