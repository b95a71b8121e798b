// The selftest's network steps against peers that are not what they should be: a milter socket
// that never answers or speaks something else, a "SocksPort" that is an SMTP server. Each ends in
// an outcome in words, never a hang or a crash.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTransaction } from '../../src/selftest/milter-transaction.ts';
import { judgeSocks, socksGreeting } from '../../src/selftest/tor-checks.ts';
import { startSink } from '../helpers/smtp-sink.ts';

async function listenUnix(path: string, onConnection: (s: Socket) => void): Promise<Server> {
  const server = createServer(onConnection);
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return server;
}

const plan = (listen: string) => ({ listen, headerName: 'X-Onion-Route', rcpt: 'u@d.example', mailer: 'smtp', timeoutMs: 300 });

test('a milter socket that accepts and never answers ends at the deadline, in words', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'onionmx-selftest-hostile-'));
  const open: Socket[] = [];
  const server = await listenUnix(join(dir, 'silent.sock'), (s) => open.push(s));
  try {
    const outcome = await runTransaction(plan(`unix:${join(dir, 'silent.sock')}`));
    assert.deepEqual(outcome, { kind: 'no-session', message: 'no answer within 300 ms' });
  } finally {
    for (const s of open) s.destroy();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a milter socket that answers with something else is a failed session, not a crash', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'onionmx-selftest-hostile-'));
  const server = await listenUnix(join(dir, 'http.sock'), (s) => {
    s.end('HTTP/1.1 400 Bad Request\r\n\r\n');
  });
  try {
    const outcome = await runTransaction(plan(`unix:${join(dir, 'http.sock')}`));
    assert.equal(outcome.kind, 'no-session');
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an SMTP server where the SocksPort should be is named as not SOCKS5', async () => {
  const sink = await startSink();
  try {
    const proxy = { kind: 'tcp', host: '127.0.0.1', port: sink.port } as const;
    const answer = await socksGreeting(proxy, 5000);
    assert.equal(answer.ok, false);
    const r = judgeSocks(proxy, answer);
    assert.equal(r.status, 'FAIL');
    assert.match(r.detail, /not SOCKS5/);
  } finally {
    await sink.close();
  }
});
