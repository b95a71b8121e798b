// check-relay as an operator runs it: argument checks (exit 64), an unreachable listener (69), and
// the text report of a listener that refuses every relay.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { runCli } from './cli-helpers.ts';

describe('check-relay command', () => {
  let server: Server;
  let port: number;
  const sockets = new Set<Socket>();

  before(async () => {
    server = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.write('220 mx.example.org ESMTP\r\n');
      let buffer = '';
      socket.on('data', (chunk: Buffer) => {
        buffer += chunk.toString('latin1');
        for (let end = buffer.indexOf('\r\n'); end >= 0; end = buffer.indexOf('\r\n')) {
          const command = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (command.startsWith('EHLO')) socket.write('250-mx.example.org\r\n250 8BITMIME\r\n');
          else if (command.startsWith('MAIL') || command === 'RSET') socket.write('250 ok\r\n');
          else if (command.startsWith('RCPT')) socket.write(command.includes('postmaster@mx.example.org') ? '250 ok\r\n' : '554 5.7.1 Relay access denied\r\n');
          else if (command === 'QUIT') socket.end('221 bye\r\n');
          else socket.write('502 no\r\n');
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    port = address.port;
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  test('PASS prints every attempt and the verdict, exit 0', async () => {
    const r = await runCli(['check-relay', '--smtp', `127.0.0.1:${port}`, '--local', 'postmaster@mx.example.org']);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines[0], `check-relay: 127.0.0.1:${port}`);
    assert.ok(lines.includes('greeting: 220 mx.example.org ESMTP'));
    assert.ok(lines.includes('local domain for the tricks: mx.example.org (from --local)'));
    assert.ok(lines.some((l) => /^ {2}accepted +local-recipient +MAIL <onionmx-relay-audit@example\.com> RCPT <postmaster@mx\.example\.org>: 250 ok$/.test(l)));
    assert.equal(lines.filter((l) => /^ {2}refused /.test(l)).length, 6);
    assert.ok(lines.includes('verdict: PASS'));
  });

  test('usage errors exit 64 with the reason', async () => {
    const cases: [string[], RegExp][] = [
      [[], /--smtp <host:port> is required/],
      [['--smtp', '127.0.0.1:0'], /--smtp: bad port "0"/],
      [['--smtp', '::1:25'], /write an IPv6 address as \[address\]:port/],
      [['--smtp', '127.0.0.1:25', '--to', 'nobody'], /--to: "nobody" is not an address/],
      [['--smtp', '127.0.0.1:25', '--to', 'a@example.org', '--local', 'b@Example.org'], /--to must be an external address/],
      [['--smtp', '127.0.0.1:25', '--helo', 'two words'], /--helo must be one printable word/],
      [['--smtp', '127.0.0.1:25', '--timeout', 'soon'], /--timeout: bad duration/],
    ];
    for (const [args, reason] of cases) {
      const r = await runCli(['check-relay', ...args]);
      assert.equal(r.status, 64, args.join(' '));
      assert.match(r.stderr, reason);
    }
  });

  test('an unreachable listener is ERROR, exit 69', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const address = closed.address();
    await new Promise((resolve) => closed.close(resolve));
    if (address === null || typeof address === 'string') throw new Error('no port');
    const r = await runCli(['check-relay', '--smtp', `127.0.0.1:${address.port}`]);
    assert.equal(r.status, 69);
    assert.match(r.stdout, /verdict: ERROR\n {2}- cannot audit 127\.0\.0\.1:\d+: connect ECONNREFUSED/);
  });
});
