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
  // The relay block spells out every default (its listeners are commented out: off by default).
  // Its socket access is inherited from the milter's (socket_group: postfix in the example).
  assert.deepEqual(c.relay, { ...defaults.relay, socketGroup: 'postfix' });
});
