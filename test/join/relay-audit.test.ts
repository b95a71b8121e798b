// The relay audit against small scripted SMTP servers on loopback: what each server answers is a
// function of the command, so every verdict path, broken conversation and reconnection is exact.
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { auditRelay, type RelayAuditOptions } from '../../src/join/relay-audit.ts';
import { openSmtpDialog } from '../../src/join/smtp-dialog.ts';
import { judgeRelayAudit, type RelayAttempt } from '../../src/join/relay-verdict.ts';

/** Returns the reply text (CRLF-terminated lines), or 'close' (drop the connection) or 'silent' (never answer). */
type Script = (command: string, connection: number) => string;

interface ScriptedServer {
  readonly port: number;
  readonly commands: string[];
  close(): Promise<void>;
}

const servers: ScriptedServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function scripted(greeting: string, script: Script): Promise<ScriptedServer> {
  const commands: string[] = [];
  const sockets = new Set<Socket>();
  let connections = 0;
  const server: Server = createServer((socket) => {
    const connection = ++connections;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.write(greeting);
    let buffer = '';
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('latin1');
      for (let end = buffer.indexOf('\r\n'); end >= 0; end = buffer.indexOf('\r\n')) {
        const command = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        commands.push(command);
        const answer = command === 'QUIT' ? '221 bye\r\n' : script(command, connection);
        if (answer === 'close') socket.destroy();
        else if (answer !== 'silent') socket.write(answer);
        if (command === 'QUIT') socket.end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  const s: ScriptedServer = {
    port: address.port,
    commands,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  servers.push(s);
  return s;
}

const EHLO_OK = '250-mx.example.org\r\n250-PIPELINING\r\n250 8BITMIME\r\n';

/** A server that refuses relaying with `relayReply` and accepts local recipients. */
function policy(relayReply: string, extra: Partial<Record<string, string>> = {}): Script {
  return (command) => {
    if (command.startsWith('EHLO')) return extra['EHLO'] ?? EHLO_OK;
    if (command.startsWith('HELO')) return '250 mx.example.org\r\n';
    if (command.startsWith('MAIL')) return extra['MAIL'] ?? '250 ok\r\n';
    if (command.startsWith('RCPT')) return command === 'RCPT TO:<postmaster@mx.example.org>' ? '250 ok\r\n' : relayReply;
    if (command === 'RSET') return '250 ok\r\n';
    return '502 no\r\n';
  };
}

const options = (port: number, over: Partial<RelayAuditOptions> = {}): RelayAuditOptions => ({
  host: '127.0.0.1',
  port,
  from: 'a@example.com',
  to: 'b@example.net',
  helo: 'audit.example.com',
  timeoutMs: 2000,
  ...over,
});

describe('relay audit', () => {
  test('a listener refusing every relay with 5xx passes; the exact commands are MAIL/RCPT/RSET and QUIT, never DATA', async () => {
    const s = await scripted('220 mx.example.org ESMTP\r\n', policy('554 5.7.1 Relay access denied\r\n'));
    const r = await auditRelay(options(s.port, { local: 'postmaster@mx.example.org' }));
    assert.equal(r.verdict, 'PASS', JSON.stringify(r.reasons));
    assert.deepEqual(r.localDomain, { domain: 'mx.example.org', from: 'local' });
    assert.deepEqual(s.commands.filter((c) => c.startsWith('RCPT')), [
      'RCPT TO:<postmaster@mx.example.org>',
      'RCPT TO:<b@example.net>',
      'RCPT TO:<b@example.net>',
      'RCPT TO:<b%example.net@mx.example.org>',
      'RCPT TO:<@mx.example.org:b@example.net>',
      'RCPT TO:<"b@example.net"@mx.example.org>',
      'RCPT TO:<example.net!b@mx.example.org>',
    ]);
    assert.ok(s.commands.includes('MAIL FROM:<postmaster@mx.example.org>'), 'forged local sender');
    assert.equal(new Set(s.commands.map((c) => c.split(/[ :]/)[0])).size, 5);
    assert.deepEqual([...new Set(s.commands.map((c) => c.split(/[ :]/)[0]))].sort(), ['EHLO', 'MAIL', 'QUIT', 'RCPT', 'RSET']);
    assert.equal(s.commands.at(-1), 'QUIT');
  });

  test('one accepted trick is FAIL, naming it', async () => {
    const s = await scripted('220 mx.example.org ESMTP\r\n', (c) => (c.startsWith('RCPT') && c.includes('%') ? '250 ok\r\n' : policy('550 no relay\r\n')(c, 1)));
    const r = await auditRelay(options(s.port));
    assert.equal(r.verdict, 'FAIL');
    assert.deepEqual(r.reasons, ['percent-hack: relay recipient b%example.net@mx.example.org accepted (250 ok)']);
  });

  test('4xx refusals are INCONCLUSIVE; 5xx at MAIL counts as a refusal', async () => {
    const temp = await scripted('220 mx.example.org ESMTP\r\n', policy('450 4.7.1 greylisted\r\n'));
    const r1 = await auditRelay(options(temp.port));
    assert.equal(r1.verdict, 'INCONCLUSIVE');
    assert.ok(r1.reasons.every((x) => x.includes('only a temporary refusal at RCPT')));
    const mail = await scripted('220 mx.example.org ESMTP\r\n', policy('250 ok\r\n', { MAIL: '553 sender refused\r\n' }));
    const r2 = await auditRelay(options(mail.port));
    assert.equal(r2.verdict, 'PASS');
    assert.ok(r2.attempts.every((a) => a.stage === 'mail' && a.outcome === 'refused'));
    assert.ok(!mail.commands.some((c) => c.startsWith('RCPT')));
  });

  for (const ext of ['XCLIENT', 'XFORWARD']) {
    test(`advertising ${ext} is FAIL even when every relay is refused`, async () => {
      const s = await scripted('220 mx.example.org ESMTP\r\n', policy('554 no\r\n', { EHLO: `250-mx.example.org\r\n250-${ext} NAME ADDR\r\n250 8BITMIME\r\n` }));
      const r = await auditRelay(options(s.port));
      assert.equal(r.verdict, 'FAIL');
      assert.match(r.reasons[0] ?? '', new RegExp(`advertises ${ext}`));
    });
  }

  test('without --local and without a host name in the greeting, the tricks are skipped: INCONCLUSIVE', async () => {
    const s = await scripted('220 ESMTP ready\r\n', policy('554 no\r\n'));
    const r = await auditRelay(options(s.port));
    assert.equal(r.verdict, 'INCONCLUSIVE');
    assert.equal(r.attempts.filter((a) => a.outcome === 'skipped').length, 5);
    assert.ok(r.reasons.some((x) => x.includes('give --local')));
  });

  test('EHLO refused: falls back to HELO and audits on', async () => {
    const s = await scripted('220 mx.example.org\r\n', policy('554 no\r\n', { EHLO: '500 what\r\n' }));
    const r = await auditRelay(options(s.port));
    assert.ok(s.commands.includes('HELO audit.example.com'));
    assert.equal(r.verdict, 'PASS');
  });

  test('a server that drops the connection after each refusal is re-connected for the next attempt', async () => {
    const s = await scripted('220 mx.example.org ESMTP\r\n', (c) => (c.startsWith('RCPT') ? '554 no\r\n' : c === 'RSET' ? 'close' : policy('554 no\r\n')(c, 1)));
    const r = await auditRelay(options(s.port));
    assert.equal(r.verdict, 'PASS', JSON.stringify(r.attempts));
    assert.equal(s.commands.filter((c) => c.startsWith('EHLO')).length, 6);
  });

  test('greetings that refuse the session: 554 and 421 are INCONCLUSIVE, not PASS', async () => {
    for (const greeting of ['554 go away\r\n', '421 busy\r\n']) {
      const s = await scripted(greeting, policy('554 no\r\n'));
      const r = await auditRelay(options(s.port));
      assert.equal(r.verdict, 'INCONCLUSIVE', greeting);
      assert.match(r.reasons[0] ?? '', /refuses every session/);
    }
  });

  test('no listener, no greeting (timeout) or garbage: ERROR or INCONCLUSIVE with the cause, never a throw', async () => {
    const closed = await scripted('', () => 'close');
    const port = closed.port;
    await closed.close();
    const refused = await auditRelay(options(port));
    assert.equal(refused.verdict, 'ERROR');
    assert.match(refused.reasons[0] ?? '', /cannot audit 127\.0\.0\.1:\d+: .*ECONNREFUSED/);

    const silent = await scripted('', () => 'silent');
    const timedOut = await auditRelay(options(silent.port, { timeoutMs: 200 }));
    assert.equal(timedOut.verdict, 'ERROR');
    assert.match(timedOut.reasons[0] ?? '', /no reply within 200 ms/);

    const garbage = await scripted('HTTP/1.1 400 Bad Request\r\n', () => 'silent');
    const notSmtp = await auditRelay(options(garbage.port));
    assert.equal(notSmtp.verdict, 'ERROR');
    assert.match(notSmtp.reasons[0] ?? '', /malformed reply: not an SMTP reply line/);

    const midway = await scripted('220 mx.example.org\r\n', (c) => (c.startsWith('RCPT') ? 'silent' : policy('554 no\r\n')(c, 1)));
    const stalled = await auditRelay(options(midway.port, { timeoutMs: 200 }));
    assert.equal(stalled.verdict, 'INCONCLUSIVE');
    assert.ok(stalled.attempts.some((a) => a.outcome === 'error' && a.reply.startsWith('timeout')));
  });

  test('the dialog refuses DATA, BDAT and smuggled line breaks without sending anything', async () => {
    const s = await scripted('220 mx.example.org\r\n', () => '250 ok\r\n');
    const opened = await openSmtpDialog({ host: '127.0.0.1', port: s.port, timeoutMs: 2000 });
    assert.ok(opened.ok);
    for (const line of ['DATA', 'data', 'BDAT 10 LAST', 'RSET\r\nDATA', 'NOOP\nDATA', 'VRFY root']) {
      const r = await opened.dialog.command(line);
      assert.ok(!r.ok && r.kind === 'refused-command', line);
    }
    assert.ok((await opened.dialog.command('NOOP')).ok);
    await opened.dialog.quit();
    assert.deepEqual(s.commands, ['NOOP', 'QUIT']);
  });
});

describe('relay verdict', () => {
  const attempt = (outcome: RelayAttempt['outcome'], expectAccept = false): RelayAttempt => ({ name: expectAccept ? 'local-recipient' : 'plain', description: '', expectAccept, mailFrom: 'a@x', rcptTo: 'b@y', outcome, stage: 'rcpt', reply: 'r' });
  const cases: [RelayAttempt['outcome'][], RelayAttempt['outcome'] | undefined, string][] = [
    [['refused', 'refused'], 'accepted', 'PASS'],
    [['refused', 'refused'], undefined, 'PASS'],
    [['refused', 'accepted'], 'accepted', 'FAIL'],
    [['temporary', 'accepted'], 'accepted', 'FAIL'],
    [['refused', 'temporary'], 'accepted', 'INCONCLUSIVE'],
    [['refused', 'error'], 'accepted', 'INCONCLUSIVE'],
    [['refused', 'skipped'], 'accepted', 'INCONCLUSIVE'],
    [['refused', 'refused'], 'refused', 'INCONCLUSIVE'],
    [['refused', 'refused'], 'temporary', 'INCONCLUSIVE'],
    [[], 'accepted', 'INCONCLUSIVE'],
  ];
  for (const [relay, local, verdict] of cases) {
    test(`relay [${relay.join(', ')}], local ${local ?? 'not checked'} -> ${verdict}`, () => {
      const attempts = [...(local === undefined ? [] : [attempt(local, true)]), ...relay.map((o) => attempt(o))];
      assert.equal(judgeRelayAudit({ attempts, extensions: [] }).verdict, verdict);
    });
  }
});
