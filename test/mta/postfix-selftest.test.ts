// `onionmx-milter selftest --postfix` against a REAL Postfix built from examples/postfix
// (e2e-postfix.ts), `serve` from examples/config.yml, the Tor stand-in and an SMTP sink behind the
// mapped onion. Set up as the examples say, every check passes; broken in one way at a time, the
// failing check is named with its fix and the exit status is 1.
//
// Settings-only breakages (smtpd_milters, milter_default_action, the header-check tables) are made
// in a copy of the running instance's config directory with `postconf -e` / `-PX`: the selftest
// reads them with postconf and postmap, so no second Postfix is needed. The open relay needs one
// that runs: a second instance (with its own daemon) whose onion-facing smtpd is changed with
// `postconf -P` to trust loopback, then reloaded before any client connected to it.
// Nothing here names a transport: the header check is whatever examples/postfix routes with.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ed25519 } from '@noble/curves/ed25519.js';
import { onionFromPublicKey } from '../../src/resolve/onion.ts';
import { needPrograms, needRoot } from '../helpers/system.ts';
import { sinkNexthop } from '../helpers/postfix.ts';
import { startOnionPostfix, type OnionPostfix } from '../helpers/e2e-postfix.ts';
import { startSink, type Sink } from '../helpers/smtp-sink.ts';
import { startFakeTor, type FakeTor } from '../helpers/fake-tor.ts';
import { exampleConfig, startDaemon, type DaemonProcess } from '../helpers/e2e-daemon.ts';
import { removeAtProcessEnd } from '../helpers/process-end.ts';
import { freePort } from '../helpers/ports.ts';
import { runCli, type CliRun } from '../cli/cli-helpers.ts';

const run = promisify(execFile);
const skip = needRoot() || needPrograms('postfix', 'postconf', 'postmap', 'postqueue', 'postsuper', 'sendmail');

const onion = (seed: number): string => onionFromPublicKey(ed25519.getPublicKey(new Uint8Array(32).fill(seed)));
const ONION = onion(21);
const SILENT_ONION = onion(22);
const DOMAIN = 'pinned.selftest.example';

const CHECKS = [
  'config loads',
  'milter adds routing header',
  'milter deletes forged header',
  'postfix smtpd_milters',
  'postfix milter_default_action',
  'postfix header check',
  'postfix strips outbound header',
  'onion smtpd not open relay',
  'tor SocksPort',
  'onion answers SMTP via Tor',
] as const;
type Check = (typeof CHECKS)[number];

/** Each check's status, in the order printed; fails on a missing or unexpected line. */
function statuses(r: CliRun): Record<Check, string> {
  const lines = r.stdout.split('\n').filter((l) => /^(PASS|FAIL|SKIP) {2}/.test(l));
  assert.deepEqual(lines.map((l) => l.slice(6, 36).trim()), [...CHECKS], r.stdout);
  return Object.fromEntries(lines.map((l, i) => [CHECKS[i], l.slice(0, 4)])) as Record<Check, string>;
}

function lineOf(r: CliRun, check: Check): string {
  return r.stdout.split('\n').find((l) => l.slice(6).startsWith(check)) ?? '';
}

/** The result line of `check`, and its fix line right after it. */
function failure(r: CliRun, check: Check): { line: string; fix: string } {
  const lines = r.stdout.split('\n');
  const i = lines.findIndex((l) => l.slice(6).startsWith(check));
  return { line: lines[i] ?? '', fix: lines[i + 1] ?? '' };
}

/** Passed and failed exactly as said: `failed` FAIL, the rest PASS (SKIP where `skipped`). */
function assertOnly(r: CliRun, failed: Check, skipped: readonly Check[] = []): void {
  const s = statuses(r);
  for (const c of CHECKS) assert.equal(s[c], c === failed ? 'FAIL' : skipped.includes(c) ? 'SKIP' : 'PASS', `${c}:\n${r.stdout}`);
  assert.equal(r.status, 1, r.stdout);
  assert.match(r.stdout, /^selftest: FAILED/m);
  assert.match(failure(r, failed).fix, /^ {6}fix: \S/, r.stdout);
}

describe('selftest --postfix against a real Postfix from examples/postfix', { skip }, () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  let dir: string;
  let sink: Sink;
  let relaySink: Sink;
  let tor: FakeTor;
  let receiver: OnionPostfix;
  let daemon: DaemonProcess;
  let configPath: string;

  let daemons = 0;
  const daemonConfig = (pf: OnionPostfix, more: Readonly<Record<string, unknown>> = {}): string =>
    exampleConfig({
      'milter.listen': pf.milterListen,
      'milter.submission_listen': pf.submissionListen,
      // Nothing is delivered, so the relay (when the example turns it on) need only bind somewhere of ours.
      'relay.listen': `unix:${join(dir, `relay-${++daemons}.sock`)}`,
      maps: [join(dir, 'pins.yml')],
      // The test recipient is pinned: no DNS query is made. A port nobody answers on, on loopback.
      'dns.servers': ['127.0.0.1:9'],
      'tor.socks': `127.0.0.1:${tor.port}`,
      ...more,
    });

  /** torsocks' TorPort for the examples' torsocks transport (a variable, not a literal: an option the helper may outgrow). */
  const postfixOptions = (mainCf: Readonly<Record<string, string>> = {}): Parameters<typeof startOnionPostfix>[0] => {
    const options = { torPort: tor.port, mainCf };
    return options;
  };

  const writeConfig = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  const selftest = (args: readonly string[], postconfDir = receiver.pf.configDir): Promise<CliRun> =>
    runCli(['selftest', '--postfix', '--postconf-dir', postconfDir, ...args], { timeoutMs: 60_000 });

  /** A copy of the running instance's config directory, changed by `edit` (postconf -c copy ...). */
  const brokenCopy = async (name: string, edit: (postconf: (...args: string[]) => Promise<string>, copy: string) => Promise<void>): Promise<string> => {
    const copy = join(dir, name);
    cpSync(receiver.pf.configDir, copy, { recursive: true });
    await edit(async (...args) => (await run('postconf', ['-c', copy, ...args])).stdout, copy);
    return copy;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'onionmx-pf-selftest-'));
    const release = removeAtProcessEnd(dir);
    cleanups.push(() => {
      rmSync(dir, { recursive: true, force: true });
      release();
    });
    writeFileSync(join(dir, 'pins.yml'), `${DOMAIN}: ${ONION}\n`);
    sink = await startSink();
    cleanups.push(() => sink.close());
    relaySink = await startSink();
    cleanups.push(() => relaySink.close());
    tor = await startFakeTor({ routes: { [`${ONION}:25`]: { host: '127.0.0.1', port: sink.port } } });
    cleanups.push(() => tor.close());
    receiver = await startOnionPostfix(postfixOptions());
    cleanups.push(() => receiver.stop());
    configPath = writeConfig('config.yml', daemonConfig(receiver));
    daemon = await startDaemon(configPath);
    cleanups.push(() => daemon.kill());
  });

  after(async () => {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
  });

  it('set up as the examples say: every check passes, exit 0', async () => {
    const r = await selftest(['--config', configPath]);
    const s = statuses(r);
    for (const c of CHECKS) assert.equal(s[c], 'PASS', `${c}:\n${r.stdout}`);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    // The header the daemon wrote is the one the table was queried with, whatever its transport.
    const header = /got (X-Onion-Route: (\S+))$/.exec(lineOf(r, 'milter adds routing header'));
    assert.ok(header?.[2] !== undefined, r.stdout);
    const transport = header[2].slice(0, header[2].indexOf(':'));
    assert.match(lineOf(r, 'postfix header check'), new RegExp(`: FILTER ${transport}:\\S+ \\(transport ${transport}: `));
    assert.match(lineOf(r, 'postfix smtpd_milters'), /unix:\/onionmx\/milter\.sock is listed/);
    assert.match(lineOf(r, 'onion smtpd not open relay'), new RegExp(`127\\.0\\.0\\.1:${receiver.onionSmtpdPort}: every relay attempt refused`));
    assert.match(r.stdout, /^selftest: OK \(10 passed, 0 failed, 0 needed but not run, 0 optional skipped\)$/m);
    assert.equal(sink.messages.length, 0, 'the selftest delivers nothing');
  });

  it("--torrc names the listener Tor forwards to: the examples' onion-facing smtpd passes the audit", async () => {
    const torrc = writeConfig('torrc', `HiddenServiceDir ${dir}/hs\nHiddenServicePort 25 127.0.0.1:${receiver.onionSmtpdPort}\n`);
    const r = await selftest(['--config', configPath, '--torrc', torrc]);
    assert.equal(r.status, 0, r.stdout);
    assert.match(lineOf(r, 'onion smtpd not open relay'), new RegExp(`^PASS .*127\\.0\\.0\\.1:${receiver.onionSmtpdPort}: every relay attempt refused`));
  });

  it('our milter missing from smtpd_milters', async () => {
    const copy = await brokenCopy('no-milter', async (postconf) => {
      await postconf('-e', 'smtpd_milters=');
    });
    const r = await selftest(['--config', configPath], copy);
    assertOnly(r, 'postfix smtpd_milters');
    assert.match(failure(r, 'postfix smtpd_milters').line, /smtpd_milters = \(empty\) does not name/);
  });

  it('milter_default_action = accept', async () => {
    const copy = await brokenCopy('accept', async (postconf) => {
      await postconf('-e', 'milter_default_action=accept');
    });
    const r = await selftest(['--config', configPath], copy);
    assertOnly(r, 'postfix milter_default_action');
    assert.match(failure(r, 'postfix milter_default_action').line, /= accept: mail passes untagged/);
  });

  it('a header-check table that does not match the header we write', async () => {
    const copy = await brokenCopy('no-match', async (postconf, at) => {
      // The table milter_header_checks names, with the header name misspelt in its pattern.
      const table = (await postconf('-xh', 'milter_header_checks')).trim().replace(/^[a-z]+:/, '');
      writeFileSync(table, readFileSync(table, 'utf8').replaceAll('X-Onion-Route:', 'X-Onion-Routing:'));
      assert.ok(table.startsWith(at), table);
    });
    const r = await selftest(['--config', configPath], copy);
    assertOnly(r, 'postfix header check');
    assert.match(failure(r, 'postfix header check').line, /no line of pcre:\S+ matches "X-Onion-Route: /);
  });

  it('the outbound header not stripped (no smtp_/lmtp_header_checks anywhere)', async () => {
    const copy = await brokenCopy('no-strip', async (postconf) => {
      await postconf('-e', 'smtp_header_checks=', 'lmtp_header_checks=');
      for (const m of (await postconf('-P')).matchAll(/^(\S+\/unix\/(?:smtp|lmtp)_header_checks) =/gm)) await postconf('-PX', m[1] ?? '');
    });
    // Without the built-in relay, which would delete the header after an LMTP transport.
    const config = writeConfig('no-relay.yml', daemonConfig(receiver, { 'relay.listen': null, 'relay.smtp_listen': null }));
    const r = await selftest(['--config', config], copy);
    assertOnly(r, 'postfix strips outbound header');
    assert.match(failure(r, 'postfix strips outbound header').line, /the routing header leaves this host through \S+/);
    assert.match(failure(r, 'postfix strips outbound header').fix, /\/\^X-Onion-Route:\/ IGNORE/);
  });

  it("an open relay: the onion-facing smtpd trusts loopback (Tor's connections come from 127.0.0.1)", async () => {
    // RCPT to an external domain must get as far as the relay decision (not the error transport).
    const open = await startOnionPostfix(postfixOptions({ default_transport: 'smtp', relayhost: sinkNexthop(relaySink.port) }));
    cleanups.push(() => open.stop());
    const service = `127.0.0.1:${open.onionSmtpdPort}/inet`;
    await open.pf.postconf('-PX', `${service}/mynetworks`);
    for (const p of ['smtpd_relay_restrictions', 'smtpd_recipient_restrictions']) await open.pf.postconf('-P', `${service}/${p}=permit_mynetworks,reject_unauth_destination`);
    const mark = await open.pf.logMark();
    await open.pf.reload();
    await open.pf.waitForLog(/postfix\/master\[\d+\]: reload -- version/, { since: mark });
    const config = writeConfig('open.yml', daemonConfig(open));
    const second = await startDaemon(config);
    cleanups.push(() => second.kill());
    const r = await selftest(['--config', config], open.pf.configDir);
    assertOnly(r, 'onion smtpd not open relay');
    assert.match(failure(r, 'onion smtpd not open relay').line, new RegExp(`127\\.0\\.0\\.1:${open.onionSmtpdPort}: FAIL: `));
    assert.equal(relaySink.messages.length, 0, 'the audit never sends DATA');
  });

  it('SocksPort down', async () => {
    const config = writeConfig('no-tor.yml', daemonConfig(receiver, { 'tor.socks': `127.0.0.1:${await freePort()}` }));
    const r = await selftest(['--config', config]);
    assertOnly(r, 'tor SocksPort', ['onion answers SMTP via Tor']);
    assert.match(r.stdout, /needed but not run/);
  });

  it('the onion not answering', async () => {
    const r = await selftest(['--config', configPath, '--onion', SILENT_ONION]);
    assertOnly(r, 'onion answers SMTP via Tor');
    assert.match(failure(r, 'onion answers SMTP via Tor').line, /\[Tor code F0\]/);
  });
});
