// `onionmx-milter verify` as an operator runs it, against a really signed zone: the built CLI runs
// inside the DNS lab's loopback-only namespace (test/helpers/zone.ts) and asks unbound, which
// validates the zone nsd serves with the zone's own key as trust anchor. No Tor runs in there, so
// the greeting check finds the SOCKS port closed and is skipped (or --no-probe skips it).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { needPrograms, needRoot } from '../helpers/system.ts';
import { startDnsLab, type DnsLab } from '../helpers/zone.ts';
import { runCli, type CliRun } from '../cli/cli-helpers.ts';

const A = 'pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion';
/** The forged target the tampered record points at after signing. */
const B = 'sp3k262uwy4r2k3ycr5awluarykdpag6a7y33jxop4cs2lu5uz5sseqd.onion';
/** Nothing listens here inside the namespace (only nsd and unbound run there): "no Tor". */
const NO_TOR_PORT = 9050;
const skip = needRoot() || needPrograms('nsd', 'unbound', 'ldns-signzone', 'ldns-keygen', 'ip');

interface Report {
  ok: boolean;
  temporary: boolean;
  authenticated?: boolean;
  records: { target: string; port: number; problem?: string }[];
  checks: { name: string; status: string; detail: string }[];
}

describe('verify against a signed zone through a validating resolver (nsd + unbound, offline)', { skip }, () => {
  let lab: DnsLab;
  let dir: string;
  const configs = new Map<string, string>();

  /** A config whose only resolver is nsd or unbound in the namespace, and whose Tor SOCKS port is closed. */
  const config = (target: 'nsd' | 'unbound'): string => {
    const known = configs.get(target);
    if (known !== undefined) return known;
    const server = lab.server(target);
    const path = join(dir, `config-${target}.yml`);
    writeFileSync(path, `dns:\n  servers: ["${server.address}:${server.port}"]\n  timeout: 2s\n  deadline: 10s\ntor:\n  socks: 127.0.0.1:${NO_TOR_PORT}\n  connect_timeout: 5s\n`);
    configs.set(target, path);
    return path;
  };

  /** The built CLI, run inside the namespace (a generous bound only guards against a hang). */
  const cli = (args: readonly string[]): Promise<CliRun> => runCli(args, { wrapper: ['ip', 'netns', 'exec', lab.netns], timeoutMs: 60_000 });

  const verify = async (domain: string, options: { resolver?: 'nsd' | 'unbound'; extra?: readonly string[] } = {}): Promise<{ status: number | null; report: Report; raw: CliRun }> => {
    const raw = await cli(['verify', domain, '--json', '--probe-timeout', '5s', '--config', config(options.resolver ?? 'unbound'), ...(options.extra ?? [])]);
    assert.notEqual(raw.stdout, '', `no report (exit ${String(raw.status)}): ${raw.stderr}`);
    return { status: raw.status, report: JSON.parse(raw.stdout) as Report, raw };
  };
  const statuses = (report: Report): [string, string][] => report.checks.map((c) => [c.name, c.status]);
  const check = (report: Report, name: string): { status: string; detail: string } => {
    const found = report.checks.find((c) => c.name === name);
    assert.ok(found !== undefined, `no ${name} check in ${JSON.stringify(report, null, 2)}`);
    return found;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'onionmx-verify-dnssec-'));
    lab = await startDnsLab([
      {
        origin: 'onionmx.example',
        sign: true,
        records: [`_onion-mx._tcp.good IN SRV 0 5 25 ${A}.`, `_onion-mx._tcp.tampered IN SRV 0 5 25 ${A}.`],
        // The spoof: after signing, point the record at another onion; its RRSIG no longer fits.
        tamper: (signed) => signed.split('\n').map((line) => (/^_onion-mx\._tcp\.tampered\.\S+\s+\d+\s+IN\s+SRV\s/.test(line) ? line.replace(A, B) : line)).join('\n'),
      },
      // The same record as "good", in a zone without signatures (and no trust anchor above it).
      { origin: 'plain.example', sign: false, records: [`_onion-mx._tcp IN SRV 0 5 25 ${A}.`] },
    ]);
  });
  after(async () => {
    await lab?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('a signed record naming a valid v3 onion: DNSSEC-authenticated, every check passes, exit 0', async () => {
    const { status, report, raw } = await verify('good.onionmx.example', { extra: ['--onion', A] });
    assert.equal(status, 0, `${raw.stdout}\n${raw.stderr}`);
    assert.equal(report.ok, true);
    assert.equal(report.authenticated, true);
    assert.deepEqual(report.records.map((r) => [r.target, r.port, r.problem]), [[A, 25, undefined]]);
    assert.deepEqual(statuses(report), [
      ['srv', 'ok'],
      ['dnssec', 'ok'],
      ['targets', 'ok'],
      ['expected-onion', 'ok'],
      ['operator-maps', 'ok'],
      ['bundled-map', 'ok'],
      ['greeting', 'skipped'],
    ]);
    assert.match(check(report, 'dnssec').detail, /DNSSEC-authenticated/);
    // No Tor in the namespace: the probe found the SOCKS port closed, which is "not checked", not a failure.
    assert.match(check(report, 'greeting').detail, new RegExp(`not checked: the Tor SOCKS port 127\\.0\\.0\\.1:${NO_TOR_PORT} does not answer`));
  });

  it('the same in the text report with --no-probe: "verify: OK", exit 0', async () => {
    const raw = await cli(['verify', 'good.onionmx.example', '--onion', A, '--no-probe', '--config', config('unbound')]);
    assert.equal(raw.status, 0, `${raw.stdout}\n${raw.stderr}`);
    assert.match(raw.stdout, /^ {2}OK {6}dnssec /m);
    assert.match(raw.stdout, /^ {2}SKIPPED greeting +not checked: --no-probe$/m);
    assert.match(raw.stdout, /^verify: OK$/m);
  });

  it('a record whose signature no longer fits (bogus) is a DNSSEC failure, exit 1, even with --allow-unsigned, and never shows the forged onion', async () => {
    for (const extra of [[], ['--allow-unsigned']]) {
      const { status, report, raw } = await verify('tampered.onionmx.example', { extra: ['--onion', A, ...extra] });
      const context = `${extra.join(' ')}\n${raw.stdout}\n${raw.stderr}`;
      // unbound (ede: yes) answers SERVFAIL with Extended DNS Error 6: not a temporary failure, a broken signature.
      assert.equal(status, 1, context);
      assert.equal(report.ok, false, context);
      assert.equal(report.temporary, false, context);
      assert.deepEqual(report.records, [], context);
      const srv = check(report, 'srv');
      assert.equal(srv.status, 'fail', context);
      assert.match(srv.detail, /DNSSEC-bogus/, context);
      assert.doesNotMatch(srv.detail, /try again/, context);
      // No answer whose signing status could be judged, so no "unsigned" verdict: the validation failed.
      assert.equal(report.authenticated, undefined, context);
      const dnssec = check(report, 'dnssec');
      assert.equal(dnssec.status, 'fail', context);
      assert.match(dnssec.detail, /^DNSSEC validation failed \(bogus\): 127\.0\.0\.1:\d+ answered SERVFAIL: EDE 6 \(DNSSEC Bogus\)/, context);
      assert.doesNotMatch(raw.stdout, /not DNSSEC-authenticated/, context);
      assert.equal(check(report, 'expected-onion').status, 'fail', context);
      assert.ok(!raw.stdout.includes(B), `the forged onion reached the report: ${context}`);
    }
  });

  it('the same in the text report: "verify: FAILED", not "could not check"', async () => {
    const raw = await cli(['verify', 'tampered.onionmx.example', '--onion', A, '--no-probe', '--config', config('unbound')]);
    assert.equal(raw.status, 1, `${raw.stdout}\n${raw.stderr}`);
    assert.match(raw.stdout, /^ {2}FAIL {4}dnssec +DNSSEC validation failed \(bogus\): /m);
    assert.match(raw.stdout, /^verify: FAILED$/m);
    assert.doesNotMatch(raw.stdout, /could not check|temporary/);
  });

  it('the tampered record is really served (by nsd, unvalidated): the failure above is the validation', async () => {
    const { status, report, raw } = await verify('tampered.onionmx.example', { resolver: 'nsd', extra: ['--onion', A] });
    assert.equal(status, 1, `${raw.stdout}\n${raw.stderr}`);
    assert.deepEqual(report.records.map((r) => r.target), [B]);
    assert.equal(report.authenticated, false, 'an authoritative server does not set AD');
    assert.equal(check(report, 'dnssec').status, 'fail');
    assert.equal(check(report, 'expected-onion').status, 'fail');
  });

  it('an unsigned domain is not authenticated: the dnssec check fails, exit 1; --allow-unsigned makes it a warning, exit 0', async () => {
    const strict = await verify('plain.example', { extra: ['--onion', A] });
    assert.equal(strict.status, 1, `${strict.raw.stdout}\n${strict.raw.stderr}`);
    assert.equal(strict.report.ok, false);
    assert.equal(strict.report.temporary, false);
    assert.equal(strict.report.authenticated, false);
    assert.deepEqual(strict.report.records.map((r) => [r.target, r.port, r.problem]), [[A, 25, undefined]]);
    // The answer itself is fine; only its DNSSEC status fails.
    assert.deepEqual(strict.report.checks.filter((c) => c.status === 'fail').map((c) => c.name), ['dnssec']);
    assert.match(check(strict.report, 'dnssec').detail, /^the answer is not DNSSEC-authenticated/);

    const allowed = await verify('plain.example', { extra: ['--onion', A, '--allow-unsigned'] });
    assert.equal(allowed.status, 0, `${allowed.raw.stdout}\n${allowed.raw.stderr}`);
    assert.equal(allowed.report.ok, true);
    assert.equal(allowed.report.authenticated, false);
    assert.equal(check(allowed.report, 'dnssec').status, 'warn');
    assert.match(check(allowed.report, 'dnssec').detail, /allowed by --allow-unsigned/);
  });
});
