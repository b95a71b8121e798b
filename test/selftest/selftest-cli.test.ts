// `onionmx-milter selftest` without Postfix, against `serve` configured from examples/config.yml,
// the Tor stand-in and an SMTP sink behind the mapped onion: passes when set up right, and names
// the failing check (exit 1) when the SocksPort is down, the onion does not answer, the milter is
// not there, or the config is broken.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ed25519 } from '@noble/curves/ed25519.js';
import { onionFromPublicKey } from '../../src/resolve/onion.ts';
import { startFakeTor, type FakeTor } from '../helpers/fake-tor.ts';
import { startSink, type Sink } from '../helpers/smtp-sink.ts';
import { exampleConfig, startDaemon, type DaemonProcess } from '../helpers/e2e-daemon.ts';
import { removeAtProcessEnd } from '../helpers/process-end.ts';
import { freePort } from '../helpers/ports.ts';
import { runCli } from '../cli/cli-helpers.ts';
import { FORGED_VALUE, judgeTransaction, type TransactionOutcome } from '../../src/selftest/milter-transaction.ts';
import type { Modification } from '../../src/milter/client.ts';

const onion = (seed: number): string => onionFromPublicKey(ed25519.getPublicKey(new Uint8Array(32).fill(seed)));
const ONION = onion(11);
const SILENT_ONION = onion(12);
const DOMAIN = 'pinned.selftest.example';

/** The checklist line of one check: its status and detail. */
function line(stdout: string, check: string): string {
  const found = stdout.split('\n').find((l) => l.slice(6).startsWith(check));
  assert.ok(found !== undefined, `no line for "${check}" in:\n${stdout}`);
  return found;
}

describe('selftest against a running daemon and the Tor stand-in (no Postfix)', () => {
  let dir: string;
  let sink: Sink;
  let tor: FakeTor;
  let daemon: DaemonProcess;
  let release: () => void;
  const overrides = (): Record<string, unknown> => ({
    'milter.listen': `unix:${join(dir, 'milter.sock')}`,
    'milter.submission_listen': null,
    'milter.socket_group': null,
    'relay.listen': `unix:${join(dir, 'relay.sock')}`,
    maps: [join(dir, 'pins.yml')],
    'dns.servers': ['127.0.0.1:9'],
    'tor.socks': `127.0.0.1:${tor.port}`,
  });
  const writeConfig = (name: string, more: Readonly<Record<string, unknown>> = {}): string => {
    const path = join(dir, name);
    writeFileSync(path, exampleConfig({ ...overrides(), ...more }));
    return path;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'onionmx-selftest-'));
    release = removeAtProcessEnd(dir);
    writeFileSync(join(dir, 'pins.yml'), `${DOMAIN}: ${ONION}\n`);
    sink = await startSink();
    tor = await startFakeTor({ routes: { [`${ONION}:25`]: { host: '127.0.0.1', port: sink.port } } });
    daemon = await startDaemon(writeConfig('config.yml'));
  });

  after(async () => {
    await daemon.kill();
    await tor.close();
    await sink.close();
    rmSync(dir, { recursive: true, force: true });
    release();
  });

  it('passes when set up right: every needed check PASS, the Postfix checks skipped as optional', async () => {
    const r = await runCli(['selftest', '--config', join(dir, 'config.yml')]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(line(r.stdout, 'config loads'), /^PASS /);
    assert.match(line(r.stdout, 'milter adds routing header'), new RegExp(`^PASS .*<onionmx-selftest@${DOMAIN}> got X-Onion-Route: [a-z0-9-]+:\\[${ONION}\\]:25$`));
    assert.match(line(r.stdout, 'milter deletes forged header'), /^PASS /);
    for (const c of ['postfix smtpd_milters', 'postfix milter_default_action', 'postfix header check', 'postfix strips outbound header', 'onion smtpd not open relay']) assert.match(line(r.stdout, c), /^SKIP .*optional/);
    assert.match(line(r.stdout, 'tor SocksPort'), /^PASS .*speaks SOCKS5/);
    assert.match(line(r.stdout, 'onion answers SMTP via Tor'), new RegExp(`^PASS  .*${ONION}:25 greeted`));
    assert.match(r.stdout, /^selftest: OK \(5 passed, 0 failed, 0 needed but not run, 5 optional skipped\)$/m);
    assert.ok(tor.connects(`${ONION}:25`) >= 1, 'the probe went through the SocksPort');
    assert.equal(sink.messages.length, 0, 'nothing was delivered');
    const logged = await daemon.waitFor(/^message routed$/, { where: (l) => l['qid'] === 'SELFTEST' });
    assert.equal(logged['incomingHeadersRemoved'], 1, 'the daemon logs the selftest message under its own queue id');
  });

  it('SocksPort down: the tor check fails with its fix, the onion is not probed, exit 1', async () => {
    const r = await runCli(['selftest', '--config', writeConfig('no-tor.yml', { 'tor.socks': `127.0.0.1:${await freePort()}` })]);
    assert.equal(r.status, 1, r.stdout);
    assert.match(line(r.stdout, 'tor SocksPort'), /^FAIL .*ECONNREFUSED/);
    assert.match(r.stdout, /^ {6}fix: start tor/m);
    assert.match(line(r.stdout, 'onion answers SMTP via Tor'), /^SKIP .*SocksPort did not answer/);
    assert.match(r.stdout, /^selftest: FAILED/m);
  });

  it('onion not answering: the probe fails with Tor\'s code, exit 1', async () => {
    const r = await runCli(['selftest', '--config', join(dir, 'config.yml'), '--onion', SILENT_ONION]);
    assert.equal(r.status, 1, r.stdout);
    assert.match(line(r.stdout, 'onion answers SMTP via Tor'), new RegExp(`^FAIL .*${SILENT_ONION}:25: UNREACHABLE at connect \\[Tor code F0\\]`));
    assert.match(line(r.stdout, 'tor SocksPort'), /^PASS /);
  });

  it('milter not listening: the transaction check fails and names the socket, exit 1', async () => {
    const r = await runCli(['selftest', '--config', writeConfig('no-milter.yml', { 'milter.listen': `unix:${join(dir, 'nobody.sock')}` })]);
    assert.equal(r.status, 1, r.stdout);
    assert.match(line(r.stdout, 'milter adds routing header'), /^FAIL .*nobody\.sock/);
    assert.match(line(r.stdout, 'milter deletes forged header'), /^SKIP /);
  });

  it('a broken config fails first and every other check is a needed check that did not run', async () => {
    const bad = join(dir, 'bad.yml');
    writeFileSync(bad, 'milter:\n  listen: nowhere\n');
    const r = await runCli(['selftest', '--config', bad]);
    assert.equal(r.status, 1, r.stdout);
    assert.match(line(r.stdout, 'config loads'), /^FAIL .*bad\.yml/);
    assert.match(r.stdout, /fix: onionmx-milter check --config/);
    assert.match(r.stdout, /^selftest: FAILED \(0 passed, 1 failed, 9 needed but not run, 0 optional skipped\)$/m);
  });

  it("--torrc without --postfix audits its HiddenServicePort 25 target: an SMTP server that takes any recipient is an open relay", async () => {
    const torrc = join(dir, 'torrc');
    writeFileSync(torrc, `HiddenServiceDir ${dir}/hs\nHiddenServicePort 25 127.0.0.1:${sink.port}\n`);
    const r = await runCli(['selftest', '--config', join(dir, 'config.yml'), '--torrc', torrc]);
    assert.equal(r.status, 1, r.stdout);
    assert.match(line(r.stdout, 'onion smtpd not open relay'), new RegExp(`^FAIL .*127\\.0\\.0\\.1:${sink.port}: FAIL: .*accepted`));
    assert.match(r.stdout, /fix: refuse relaying there/);
    assert.equal(sink.messages.length, 0, 'the audit never sends DATA');
  });

  it('a domain pinned to two onions fails the config check, as check counts it', async () => {
    const other = join(dir, 'other-pins.yml');
    writeFileSync(other, `${DOMAIN}: ${SILENT_ONION}\n`);
    const r = await runCli(['selftest', '--config', writeConfig('conflict.yml', { maps: [join(dir, 'pins.yml'), other] })]);
    assert.equal(r.status, 1, r.stdout);
    assert.match(line(r.stdout, 'config loads'), new RegExp(`^FAIL .*${DOMAIN.replaceAll('.', '\\.')}`));
  });

  it('bad arguments are usage errors', async () => {
    assert.equal((await runCli(['selftest', '--onion', 'not-an-onion'])).status, 64);
    assert.equal((await runCli(['selftest', '--timeout', 'soon'])).status, 64);
    assert.equal((await runCli(['selftest', '--torrc', join(dir, 'no-such-torrc')])).status, 64);
  });
});

describe('the milter transaction is judged on what came back', () => {
  const plan = { listen: 'unix:/x.sock', headerName: 'X-Onion-Route', rcpt: 'u@d.example' };
  const value = `smtptor:[${ONION}]:25`;
  const eom = (modifications: readonly Modification[]): TransactionOutcome => ({ kind: 'done', eom: { modifications, reply: { kind: 'continue' }, progress: 0 } });

  it('the routing header and the forged copy deleted: two PASS', () => {
    const r = judgeTransaction(eom([{ kind: 'changeHeader', index: 1, name: 'X-Onion-Route', value: '' }, { kind: 'addHeader', name: 'X-Onion-Route', value }]), plan, value);
    assert.deepEqual(r.map((x) => x.status), ['PASS', 'PASS']);
  });

  it('a forged header left in place, or a wrong or missing header, fails', () => {
    const kept = judgeTransaction(eom([{ kind: 'addHeader', name: 'X-Onion-Route', value }]), plan, value);
    assert.deepEqual(kept.map((x) => x.status), ['PASS', 'FAIL']);
    const wrong = judgeTransaction(eom([{ kind: 'addHeader', name: 'X-Onion-Route', value: FORGED_VALUE }]), plan, value);
    assert.match(wrong[0]?.detail ?? '', /got X-Onion-Route: forged-by-the-selftest, expected/);
    assert.match(judgeTransaction(eom([]), plan, value)[0]?.detail ?? '', /got no routing header/);
  });

  it('a refused recipient fails with the reply', () => {
    const r = judgeTransaction({ kind: 'rcpt-refused', reply: { kind: 'replyCode', text: '451 4.4.3 lookup failed' } }, plan, value);
    assert.match(r[0]?.detail ?? '', /answered 451 4\.4\.3 lookup failed/);
    assert.equal(r[1]?.status, 'SKIP');
  });
});
