// The relay's server-side codec: command-line framing (CRLF only, overlong lines dropped as they
// come), command parsing, MAIL/RCPT parameters into the envelope, and reply encoding.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CommandLineReader, type LineEvent } from '../../../src/relay/inbound/line-reader.ts';
import { decodeXtext, parseCommandLine, type Command } from '../../../src/relay/inbound/command.ts';
import { mailCommand, rcptCommand } from '../../../src/relay/inbound/params.ts';
import { encodeReply, ownReply, relayedReply, replyCodes } from '../../../src/relay/inbound/reply.ts';
import type { SmtpReply } from '../../../src/relay/envelope.ts';

function events(reader: CommandLineReader): string[] {
  const out: string[] = [];
  for (let e: LineEvent | undefined = reader.next(); e !== undefined; e = reader.next()) out.push(e.kind === 'line' ? `line:${e.bytes.toString('latin1')}` : e.kind);
  return out;
}

function readAll(parts: readonly Buffer[], max = 20): string[] {
  const reader = new CommandLineReader(max);
  const out: string[] = [];
  for (const p of parts) {
    reader.push(p);
    out.push(...events(reader));
  }
  return out;
}

function parsed(line: string): Command {
  const r = parseCommandLine(Buffer.from(line));
  if (!r.ok) throw new Error(`refused: ${encodeReply(r.reply)}`);
  return r.command;
}

function refusal(line: string | Buffer): string {
  const r = parseCommandLine(typeof line === 'string' ? Buffer.from(line) : line);
  assert.equal(r.ok, false, `expected ${String(line)} to be refused`);
  return r.ok ? '' : replyCodes(r.reply);
}

describe('relay command lines', () => {
  it('splits CRLF lines, refuses bare LF and bare CR, and refuses overlong lines', () => {
    const input = Buffer.from('NOOP\r\nbare\nbad\rcr\r\n\r\n' + 'x'.repeat(50) + '\r\nQUIT\r\n');
    assert.deepEqual(readAll([input]), ['line:NOOP', 'bare-lf', 'bare-cr', 'line:', 'too-long', 'line:QUIT']);
  });

  it('frames the same way whatever the chunking', () => {
    const input = Buffer.from('NOOP\r\nbare\nbad\rcr\r\n' + 'y'.repeat(45) + '\r\nRSET\r\n' + 'z'.repeat(21) + '\n' + 'x'.repeat(20) + '\r\n');
    const whole = readAll([input]);
    assert.deepEqual(whole, ['line:NOOP', 'bare-lf', 'bare-cr', 'too-long', 'line:RSET', 'too-long', `line:${'x'.repeat(20)}`]);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1 }), (sizes) => {
        const parts: Buffer[] = [];
        for (let at = 0, k = 0; at < input.length; k++) {
          const n = sizes[k % sizes.length] ?? 1;
          parts.push(input.subarray(at, at + n));
          at += n;
        }
        assert.deepEqual(readAll(parts), whole);
      }),
    );
  });

  it('never holds more than one line limit of an endless line', () => {
    const reader = new CommandLineReader(100);
    for (let i = 0; i < 1000; i++) {
      reader.push(Buffer.alloc(1000, 0x41));
      assert.equal(reader.next(), undefined);
      assert.ok(reader.bufferedBytes <= 1001);
    }
    reader.push(Buffer.from('\r\nNOOP\r\n'));
    assert.deepEqual(events(reader), ['too-long', 'line:NOOP']);
  });

  it('hands over the bytes after a line (the start of a message after DATA)', () => {
    const again = new CommandLineReader(100);
    again.push(Buffer.from('DATA\r\nSubject: x\r\n'));
    const first = again.next();
    assert.equal(first?.kind, 'line');
    assert.equal(again.takeRest().toString(), 'Subject: x\r\n');
    assert.equal(again.bufferedBytes, 0);
  });
});

describe('relay command parsing', () => {
  it('parses every command it knows, case-insensitively', () => {
    assert.deepEqual(parsed('lhlo mta.example'), { verb: 'LHLO', domain: 'mta.example' });
    assert.deepEqual(parsed('EHLO [127.0.0.1]'), { verb: 'EHLO', domain: '[127.0.0.1]' });
    assert.deepEqual(parsed('mail from:<a@b.example> SIZE=10 body=8bitmime SMTPUTF8'), {
      verb: 'MAIL',
      path: 'a@b.example',
      params: [
        { keyword: 'SIZE', value: '10' },
        { keyword: 'BODY', value: '8bitmime' },
        { keyword: 'SMTPUTF8', value: undefined },
      ],
    });
    assert.deepEqual(parsed('MAIL FROM: <>'), { verb: 'MAIL', path: '', params: [] });
    assert.deepEqual(parsed('RCPT TO:<"a >b"@c.example> NOTIFY=NEVER'), { verb: 'RCPT', path: '"a >b"@c.example', params: [{ keyword: 'NOTIFY', value: 'NEVER' }] });
    for (const verb of ['DATA', 'RSET', 'QUIT', 'NOOP', 'HELP'] as const) assert.deepEqual(parsed(verb.toLowerCase()), { verb });
    assert.deepEqual(parsed('NOOP anything'), { verb: 'NOOP' });
    assert.deepEqual(parsed('VRFY someone'), { verb: 'VRFY', argument: 'someone' });
    const x = parsed('XFORWARD NAME=mx.example ADDR=192.0.2.1 IDENT=4XbT2k0Yz7 HELO=a+20b');
    assert.equal(x.verb, 'XFORWARD');
    assert.deepEqual(x.verb === 'XFORWARD' ? Object.fromEntries(x.attributes) : {}, { NAME: 'mx.example', ADDR: '192.0.2.1', IDENT: '4XbT2k0Yz7', HELO: 'a b' });
  });

  it('refuses what it cannot parse with the right codes', () => {
    assert.equal(refusal('FOO bar'), '500 5.5.1');
    assert.equal(refusal('STARTTLS'), '502 5.5.1');
    assert.equal(refusal('BDAT 10 LAST'), '502 5.5.1');
    assert.equal(refusal('EHLO'), '501 5.5.4');
    assert.equal(refusal('DATA now'), '501 5.5.4');
    assert.equal(refusal('MAIL <a@b.example>'), '501 5.5.4');
    assert.equal(refusal('MAIL FROM:a@b.example'), '501 5.1.7');
    assert.equal(refusal('RCPT TO:<a@b.example'), '501 5.1.3');
    assert.equal(refusal('RCPT TO:<a b@c.example>'), '501 5.1.3');
    assert.equal(refusal('RCPT TO:<a@b.example>NOTIFY=NEVER'), '501 5.1.3');
    assert.equal(refusal('RCPT TO:<a@b.example> NOTIFY=A NOTIFY=B'), '501 5.5.4');
    assert.equal(refusal('RCPT TO:<a@b.example> =x'), '501 5.5.4');
    assert.equal(refusal('XFORWARD'), '501 5.5.4');
    assert.equal(refusal('XFORWARD COLOUR=red'), '501 5.5.4');
    assert.equal(refusal('XFORWARD IDENT=a+zz'), '501 5.5.4');
    assert.equal(refusal(Buffer.from([0x4e, 0x4f, 0x4f, 0x50, 0x20, 0xff])), '500 5.5.2');
  });

  it('decodes xtext and refuses what is not xtext', () => {
    assert.equal(decodeXtext('a+2Bb+3Dc'), 'a+b=c');
    assert.equal(decodeXtext('a+b'), undefined);
    assert.equal(decodeXtext('a=b'), undefined);
  });
});

describe('relay envelope parameters', () => {
  const ctx = { extended: true, maxMessageSize: 1000 };
  const mail = (line: string, c = ctx): ReturnType<typeof mailCommand> => {
    const cmd = parsed(line);
    if (cmd.verb !== 'MAIL') throw new Error('not MAIL');
    return mailCommand(cmd.path, cmd.params, c);
  };
  const rcpt = (line: string, smtputf8 = false, extended = true): ReturnType<typeof rcptCommand> => {
    const cmd = parsed(line);
    if (cmd.verb !== 'RCPT') throw new Error('not RCPT');
    return rcptCommand(cmd.path, cmd.params, { extended, smtputf8 });
  };
  const code = (r: { ok: boolean; reply?: SmtpReply }): string => (r.ok || r.reply === undefined ? 'ok' : replyCodes(r.reply));

  it('carries every parameter the relay understands', () => {
    const m = mail('MAIL FROM:<sender@example.org> SIZE=999 BODY=8BITMIME SMTPUTF8 RET=hdrs ENVID=QQ+2B1');
    assert.deepEqual(m, { ok: true, command: { reversePath: 'sender@example.org', params: { size: 999, body: '8BITMIME', smtputf8: true, ret: 'HDRS', envid: 'QQ+2B1' } } });
    assert.deepEqual(mail('MAIL FROM:<>'), { ok: true, command: { reversePath: '', params: {} } });
    assert.deepEqual(mail('MAIL FROM:<@relay.example:s@example.org>'), { ok: true, command: { reversePath: 's@example.org', params: {} } });
    assert.deepEqual(mail('MAIL FROM:<s@[192.0.2.1]>'), { ok: true, command: { reversePath: 's@[192.0.2.1]', params: {} } });
    const r = rcpt('RCPT TO:<Rcpt@Example.ORG> NOTIFY=success,delay ORCPT=rfc822;Rcpt+40example.org');
    assert.deepEqual(r, { ok: true, command: { forwardPath: 'Rcpt@Example.ORG', params: { notify: ['SUCCESS', 'DELAY'], orcpt: 'rfc822;Rcpt+40example.org' } }, domain: 'example.org' });
    assert.deepEqual(rcpt('RCPT TO:<@a.example,@b.example:u@c.example>'), { ok: true, command: { forwardPath: 'u@c.example', params: {} }, domain: 'c.example' });
    const utf = rcpt('RCPT TO:<jörg@bücher.example> ORCPT=utf-8;jörg@bücher.example', true);
    assert.equal(utf.ok && utf.domain, 'xn--bcher-kva.example');
  });

  it('refuses parameters and values it does not carry', () => {
    assert.equal(code(mail('MAIL FROM:<a@b.example> SIZE=1001')), '552 5.3.4');
    assert.equal(code(mail('MAIL FROM:<a@b.example> SIZE=big')), '501 5.5.4');
    assert.equal(code(mail('MAIL FROM:<a@b.example> BODY=BINARYMIME')), '555 5.5.4');
    assert.equal(code(mail('MAIL FROM:<a@b.example> BODY=9BIT')), '501 5.5.4');
    assert.equal(code(mail('MAIL FROM:<a@b.example> SMTPUTF8=yes')), '501 5.5.4');
    assert.equal(code(mail('MAIL FROM:<a@b.example> RET=ALL')), '501 5.5.4');
    assert.equal(code(mail('MAIL FROM:<a@b.example> ENVID=a+zz')), '501 5.5.4');
    assert.equal(code(mail(`MAIL FROM:<a@b.example> ENVID=${'x'.repeat(101)}`)), '501 5.5.4');
    assert.equal(code(mail('MAIL FROM:<a@b.example> AUTH=<>')), '555 5.5.4');
    assert.equal(code(mail('MAIL FROM:<a@b.example> SIZE=1', { extended: false, maxMessageSize: 1000 })), '555 5.5.4');
    assert.equal(code(mail('MAIL FROM:<jörg@example.org>')), '553 5.6.7');
    assert.equal(code(mail('MAIL FROM:<nodomain>')), '501 5.1.7');
    assert.equal(code(mail('MAIL FROM:<@relay.example:>')), '501 5.1.7');
    assert.equal(code(rcpt('RCPT TO:<a@b.example> NOTIFY=NEVER,SUCCESS')), '501 5.5.4');
    assert.equal(code(rcpt('RCPT TO:<a@b.example> NOTIFY=FAILURE,FAILURE')), '501 5.5.4');
    assert.equal(code(rcpt('RCPT TO:<a@b.example> ORCPT=a@b.example')), '501 5.5.4');
    assert.equal(code(rcpt('RCPT TO:<a@b.example> ORCPT=rfc822;a+zz')), '501 5.5.4');
    assert.equal(code(rcpt('RCPT TO:<a@b.example> XYZ=1')), '555 5.5.4');
    assert.equal(code(rcpt('RCPT TO:<a@b.example> NOTIFY=NEVER', false, false)), '555 5.5.4');
    assert.equal(code(rcpt('RCPT TO:<jörg@example.org>')), '553 5.6.7');
    assert.equal(code(rcpt('RCPT TO:<>')), '501 5.1.3');
    assert.equal(code(rcpt('RCPT TO:<Postmaster>')), '550 5.1.1');
    assert.equal(code(rcpt('RCPT TO:<u@[192.0.2.1]>')), '550 5.1.2');
    assert.equal(code(rcpt('RCPT TO:<u@bad_domain.example>')), '501 5.1.3');
  });
});

describe('relay replies', () => {
  it('encodes single- and multi-line replies', () => {
    assert.equal(encodeReply(ownReply(250, '2.1.0', 'Ok')), '250 2.1.0 Ok\r\n');
    assert.equal(encodeReply({ code: 250, lines: ['relay.example', 'PIPELINING', 'SIZE 10'] }), '250-relay.example\r\n250-PIPELINING\r\n250 SIZE 10\r\n');
    assert.equal(encodeReply({ code: 250, lines: [] }), '250 \r\n');
  });

  it('never lets reply text break the protocol', () => {
    assert.equal(encodeReply({ code: 550, lines: ['a\r\n250 fake\u00e9'] }), '550 a??250 fake?\r\n');
    assert.equal(encodeReply({ code: 550, lines: ['x'.repeat(2000)] }).length, 3 + 1 + 506 + 2);
  });

  it('gives relayed replies enhanced codes of their class', () => {
    assert.deepEqual(relayedReply({ code: 550, lines: ['No such user'] }), { code: 550, lines: ['5.0.0 No such user'] });
    assert.deepEqual(relayedReply({ code: 250, lines: ['2.0.0 Ok: queued as X'] }), { code: 250, lines: ['2.0.0 Ok: queued as X'] });
    assert.deepEqual(relayedReply({ code: 451, lines: ['5.7.1 wrong class', ''] }), { code: 451, lines: ['4.7.1 wrong class', '4.0.0'] });
    assert.equal(replyCodes(relayedReply({ code: 199, lines: ['odd'] })), '451 4.5.0');
  });
});
