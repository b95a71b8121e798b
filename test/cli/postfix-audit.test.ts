import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { auditPostfix } from '../../src/cli/postfix-audit.ts';
import { needPrograms } from '../helpers/system.ts';
import { runCli } from './cli-helpers.ts';

const good = {
  always_bcc: '',
  sender_bcc_maps: '',
  recipient_bcc_maps: '',
  content_filter: '',
  smtpd_milters: 'unix:/onionmx/milter.sock',
  non_smtpd_milters: 'unix:/onionmx/submission.sock',
  milter_default_action: 'tempfail',
  milter_header_checks: 'pcre:/etc/postfix/onion_milter_header_checks',
  smtp_header_checks: 'pcre:/etc/postfix/onion_smtp_header_checks',
};

test('a header-mode setup as in examples/postfix gives no warning', () => {
  assert.deepEqual(auditPostfix(good, 'X-Onion-Route'), []);
});

test('bcc copies, content_filter, accept default and missing header checks are warned about', () => {
  const w = auditPostfix(
    { ...good, always_bcc: 'archive@example.org', recipient_bcc_maps: 'hash:/etc/postfix/rbcc', content_filter: 'amavis:[127.0.0.1]:10024', milter_default_action: 'accept', smtp_header_checks: '' },
    'X-Onion-Route',
  );
  assert.equal(w.length, 5);
  assert.match(w[0] ?? '', /always_bcc is set: FILTER also sends those copies/);
  assert.match(w[1] ?? '', /recipient_bcc_maps is set/);
  assert.match(w[2] ?? '', /content_filter is set: a FILTER action replaces it/);
  assert.match(w[3] ?? '', /milter_default_action = accept: mail passes untagged/);
  assert.match(w[4] ?? '', /X-Onion-Route header may leave this host/);
});

test('check --postfix reads a real Postfix config directory with postconf', { skip: needPrograms('postconf') }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'onionmx-pfcheck-'));
  try {
    writeFileSync(join(dir, 'main.cf'), 'always_bcc = archive@example.org\ncontent_filter = amavis:[127.0.0.1]:10024\nsmtpd_milters = unix:/onionmx/milter.sock\n');
    writeFileSync(join(dir, 'master.cf'), '');
    writeFileSync(join(dir, 'config.yml'), 'bundled_map: false\ndns:\n  servers: ["127.0.0.1:9"]\n');
    const r = await runCli(['check', '--offline', '--config', join(dir, 'config.yml'), '--postfix', dir]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /warning: postfix: always_bcc is set/);
    assert.match(r.stdout, /warning: postfix: content_filter is set/);
    assert.match(r.stdout, /warning: postfix: milter_header_checks is not set/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
