import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checklistPassed, fail, formatChecklist, pass, skip } from '../../src/selftest/checklist.ts';
import { expectedHeaderValue, pickTestRecipient } from '../../src/selftest/test-recipient.ts';
import { onionSmtpTargets } from '../../src/selftest/torrc.ts';
import { staticMapFromTexts } from '../../src/resolve/maps/index.ts';
import { defaults } from '../../src/config/schema.ts';
import { ed25519 } from '@noble/curves/ed25519.js';
import { onionFromPublicKey } from '../../src/resolve/onion.ts';

const ONION = onionFromPublicKey(ed25519.getPublicKey(new Uint8Array(32).fill(7)));

test('the selftest passes only when every needed check passed; optional checks may be skipped', () => {
  assert.equal(checklistPassed([pass('a', 'x'), skip('b', 'y', true)]), true);
  assert.equal(checklistPassed([pass('a', 'x'), skip('b', 'input failed')]), false);
  assert.equal(checklistPassed([pass('a', 'x'), fail('b', 'y', 'z')]), false);
});

test('one line per check, names in a column, a fix line after each FAIL, then the verdict', () => {
  const text = formatChecklist([pass('config loads', 'here'), fail('tor SocksPort', 'refused', 'start tor'), skip('postfix header check', 'optional', true)]);
  assert.equal(
    text,
    [
      'PASS  config loads                    here',
      'FAIL  tor SocksPort                   refused',
      '      fix: start tor',
      'SKIP  postfix header check            optional',
      'selftest: FAILED (1 passed, 1 failed, 0 needed but not run, 1 optional skipped)',
      '',
    ].join('\n'),
  );
});

test('the test recipient: --rcpt, else the first domain of the operator maps, else of the bundled map', () => {
  const mine = staticMapFromTexts([{ file: 'pins.yml', text: `.wild.example: ${ONION}\nmine.example: ${ONION}\n` }]);
  const bundled = staticMapFromTexts([{ file: 'bundled.yml', text: `theirs.example: ${ONION}\n` }]);
  const empty = staticMapFromTexts([]);
  assert.deepEqual(pickTestRecipient('x@y.example', [mine, bundled]), { ok: true, address: 'x@y.example', from: '--rcpt' });
  assert.deepEqual(pickTestRecipient(undefined, [mine, bundled]), { ok: true, address: 'onionmx-selftest@mine.example', from: 'the first entry of maps' });
  assert.deepEqual(pickTestRecipient(undefined, [empty, bundled]), { ok: true, address: 'onionmx-selftest@theirs.example', from: 'the first entry of the bundled map' });
  assert.equal(pickTestRecipient(undefined, [empty, undefined]).ok, false);
});

test('the expected header value follows header.format and header.transport (whichever transport is configured)', () => {
  const route = { domain: 'd.example', onion: ONION, port: 25 };
  assert.equal(expectedHeaderValue(defaults.header, route), `${defaults.header.transport}:[${ONION}]:25`);
  assert.equal(expectedHeaderValue({ ...defaults.header, transport: 'onionrelay' }, route), `onionrelay:[${ONION}]:25`);
  assert.equal(expectedHeaderValue({ ...defaults.header, format: 'domain-list' }, route), `d.example=${ONION}:25`);
  assert.equal(expectedHeaderValue({ ...defaults.header, format: 'template', template: '{transport}:{onion}' }, route), `${defaults.header.transport}:${ONION}`);
});

test("a torrc's SMTP onion services: HiddenServicePort 25 with addr:port, port or no target; unix targets left out", () => {
  const torrc = [
    'SocksPort 127.0.0.1:9050 ExtendedErrors',
    'HiddenServiceDir /var/lib/tor/onionmx/',
    'HiddenServicePort 25 127.0.0.1:2525   # the onion-facing smtpd',
    'hiddenserviceport 25 2626',
    'HiddenServicePort 25',
    'HiddenServicePort 25 [::1]:2727',
    'HiddenServicePort 25 unix:/run/smtpd.sock',
    'HiddenServicePort 80 127.0.0.1:8080',
    '# HiddenServicePort 25 127.0.0.1:9999',
  ].join('\n');
  assert.deepEqual(onionSmtpTargets(torrc), [
    { host: '127.0.0.1', port: 2525 },
    { host: '127.0.0.1', port: 2626 },
    { host: '127.0.0.1', port: 25 },
    { host: '::1', port: 2727 },
  ]);
});
