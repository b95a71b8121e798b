// What `serve` says at start, for an operator reading its first lines: the DNS servers with their
// AD trust and the DNSSEC policy, and a warning with the fix when DNSSEC is required but no server
// is trusted (no SRV route could ever be used), `check` saying the same; and that the bundled
// map's problems are known upstream defects; and in which format (JSON, or readable on a
// terminal). No DNS query is sent: the non-loopback server below
// (TEST-NET-1) is only named, never asked.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { startDaemon } from '../helpers/e2e-daemon.ts';
import { CLI, runCli } from '../cli/cli-helpers.ts';
import { needPrograms } from '../helpers/system.ts';

/** Runs `command`, waits (bounded) until its output matches `until`, stops it with SIGTERM; the output. */
async function outputUntil(command: string, args: readonly string[], until: RegExp): Promise<string> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const matched = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`no output matching ${String(until)} within 15 s:\n${out}`));
    }, 15_000);
    const onData = (d: string): void => {
      out += d;
      if (until.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.setEncoding('utf8').on('data', onData);
    child.stderr.setEncoding('utf8').on('data', onData);
    child.on('exit', () => {
      clearTimeout(timer);
      if (!until.test(out)) reject(new Error(`exited before output matching ${String(until)}:\n${out}`));
    });
  });
  try {
    await matched;
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    }
  }
  return out;
}

describe('serve start lines', () => {
  let dir: string;
  const writeConfig = (name: string, body: string, bundledMap = false): string => {
    const path = join(dir, `${name}.yml`);
    writeFileSync(path, `milter:\n  listen: unix:${join(dir, `${name}.sock`)}\nbundled_map: ${bundledMap}\n${body}`);
    return path;
  };
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'onionmx-start-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('name the DNS servers, their AD trust and the DNSSEC policy', async () => {
    const daemon = await startDaemon(writeConfig('trusted', 'dns:\n  servers: ["127.0.0.1:5399", {address: 192.0.2.53, trust_ad: true}]\n'));
    try {
      const started = daemon.lines.find((l) => l.msg === 'onionmx-milter started');
      assert.deepEqual(started?.['dns'], { servers: ['127.0.0.1:5399 (AD trusted: loopback)', '192.0.2.53:53 (AD trusted: trust_ad)'], from: 'dns.servers', dnssec: 'required' });
      // The only warning allowed is the one for running the suite as root (startDaemon passes --allow-root).
      assert.equal(daemon.lines.filter((l) => l['level'] === 'warn' && !String(l.msg).startsWith('running as root')).length, 0, JSON.stringify(daemon.lines));
    } finally {
      await daemon.stop();
    }
  });

  it('are JSON when standard output is not a terminal (log.format: auto), readable with log.format: pretty', async () => {
    const daemon = await startDaemon(writeConfig('auto', 'dns:\n  servers: ["127.0.0.1:5399"]\n'));
    await daemon.stop();
    assert.deepEqual(daemon.lines.filter((l) => String(l.msg).startsWith('(not JSON)')), []);
    const path = writeConfig('pretty', 'dns:\n  servers: ["127.0.0.1:5399"]\nlog:\n  format: pretty\n');
    const out = await outputUntil(process.execPath, [CLI, 'serve', '--allow-root', '--config', path], /onionmx-milter started[^\n]*\n/);
    assert.match(out, /^\d\d:\d\d:\d\d\.\d{3}Z INFO {2}onionmx-milter started milter=unix:\S+pretty\.sock lookup=\{\} relay=\{\} maps=\{.*\} dns=\{"servers":\["127\.0\.0\.1:5399 \(AD trusted: loopback\)"\]/m);
    assert.doesNotMatch(out, /^\{/m);
    assert.ok(!out.includes('\x1b['), 'no colour when standard output is not a terminal');
  });

  it('are readable and coloured on a terminal with log.format: auto', { skip: needPrograms('script') }, async () => {
    const path = writeConfig('tty', 'dns:\n  servers: ["127.0.0.1:5399"]\n');
    // script(1) runs the daemon with a pseudo-terminal as its standard output, as a shell would.
    const out = await outputUntil('script', ['-qfec', `${process.execPath} ${CLI} serve --allow-root --config ${path}`, '/dev/null'], /onionmx-milter started[^\n]*\n/);
    assert.match(out, /\d\d:\d\d:\d\d\.\d{3}Z \S+INFO \S+ onionmx-milter started milter=unix:/);
    assert.ok(out.includes('\x1b[32mINFO \x1b[39m onionmx-milter started'), 'the level in green');
    assert.doesNotMatch(out, /"level":/);
  });

  it('say that the bundled map\'s problems are known upstream defects and point at map check', async () => {
    const daemon = await startDaemon(writeConfig('bundled', 'dns:\n  servers: ["127.0.0.1:5399"]\n', true));
    try {
      const loaded = daemon.lines.find((l) => String(l.msg).startsWith('bundled OnionMX map loaded'));
      assert.equal(loaded?.['problems'], 7);
      assert.match(String(loaded?.msg), /^bundled OnionMX map loaded; its 7 problems \(7 v2-onion\) are known defects of the upstream map, skipped and harmless: onionmx-milter map check \S+onionmx-map\.yml lists them$/);
      const mapCheck = await runCli(['map', 'check', /map check (\S+)/.exec(String(loaded?.msg))?.[1] ?? '']);
      assert.match(mapCheck.stdout, /v2 onion services no longer work in Tor/);
    } finally {
      await daemon.stop();
    }
  });

  it('warn with the fix when DNSSEC is required and no server is trusted; check warns the same', async () => {
    const path = writeConfig('untrusted', 'dns:\n  servers: ["192.0.2.53"]\n');
    const daemon = await startDaemon(path);
    try {
      const warning = daemon.lines.find((l) => l['level'] === 'warn' && String(l.msg).startsWith('dns.'));
      assert.match(String(warning?.msg), /^dns\.dnssec is required, but no DNS server is trusted to validate \(192\.0\.2\.53:53 from dns\.servers.*no SRV route is ever used.*Fix: run a validating resolver on loopback/);
      assert.deepEqual(warning?.['servers'], ['192.0.2.53:53 (AD not trusted)']);
      const started = daemon.lines.find((l) => l.msg === 'onionmx-milter started');
      assert.deepEqual(started?.['dns'], { servers: ['192.0.2.53:53 (AD not trusted)'], from: 'dns.servers', dnssec: 'required' });
    } finally {
      await daemon.stop();
    }
    const check = await runCli(['check', '--offline', '--config', path]);
    assert.equal(check.status, 0, check.stdout + check.stderr);
    assert.match(check.stdout, /^dns: 192\.0\.2\.53:53 \(AD not trusted\) from dns\.servers; dnssec required$/m);
    assert.match(check.stdout, /^warning: dns\.dnssec is required, but no DNS server is trusted to validate .*Fix: /m);
    const optional = await runCli(['check', '--offline', '--config', writeConfig('optional', 'dns:\n  servers: ["192.0.2.53"]\n  dnssec: optional\n')]);
    assert.doesNotMatch(optional.stdout, /warning: dns\.dnssec/);
  });
});
