import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMasterServices, parseMilterList, parseTableList } from '../../src/selftest/postconf-parse.ts';
import { checkHeaderTable, checkOutboundStrip, judgeMilterSettings, onionFacingSmtpds, sameSocket, type LookupOutcome, type PostfixView, type TableLookup } from '../../src/selftest/postfix-checks.ts';

// As `postconf -M` and `postconf -Px` print examples/postfix/master.cf.
const MASTER_M = [
  'smtptor    unix  -       -       n       -       -       smtp_tor -o smtp_header_checks=pcre:$config_directory/onion_smtp_header_checks',
  '127.0.0.1:2525 inet n    -       n       -       -       smtpd -o syslog_name=postfix/onion -o smtpd_milters= -o mynetworks=',
  '127.0.0.1:2626 inet n    -       n       -       -       smtpd',
  'onionrelay unix  -       -       n       -       -       lmtp',
  '',
].join('\n');
const MASTER_PX = [
  'smtptor/unix/smtp_header_checks = pcre:/etc/postfix/onion_smtp_header_checks',
  '127.0.0.1:2525/inet/mynetworks =',
  '127.0.0.1:2525/inet/smtpd_milters =',
  '127.0.0.1:2525/inet/syslog_name = postfix/onion',
  '',
].join('\n');

const services = parseMasterServices(MASTER_M, MASTER_PX);
const HEADER = 'X-Onion-Route: smtptor:[abc.onion]:25';

function view(main: Readonly<Record<string, string>>): PostfixView {
  return { main: { queue_directory: '/var/spool/postfix', milter_default_action: 'tempfail', ...main }, services };
}

/** A table lookup answering from a fixed table -> value list. */
function lookupFrom(answers: Readonly<Record<string, string | Error>>): TableLookup {
  return (tables) => {
    for (const t of tables) {
      const a = answers[t];
      if (a instanceof Error) return Promise.resolve<LookupOutcome>({ kind: 'error', message: a.message });
      if (a !== undefined) return Promise.resolve<LookupOutcome>({ kind: 'found', table: t, value: a });
    }
    return Promise.resolve<LookupOutcome>({ kind: 'none' });
  };
}

test('master.cf services with their expanded -o overrides', () => {
  assert.deepEqual(services.map((s) => [s.name, s.type, s.command]), [
    ['smtptor', 'unix', 'smtp_tor'],
    ['127.0.0.1:2525', 'inet', 'smtpd'],
    ['127.0.0.1:2626', 'inet', 'smtpd'],
    ['onionrelay', 'unix', 'lmtp'],
  ]);
  assert.equal(services[0]?.params['smtp_header_checks'], 'pcre:/etc/postfix/onion_smtp_header_checks');
  assert.equal(services[1]?.params['smtpd_milters'], '');
  assert.deepEqual(services[2]?.params, {});
});

test('milter lists: commas, white space and the { address, name=value } form', () => {
  assert.deepEqual(parseMilterList('unix:/a.sock, inet:127.0.0.1:8895 { unix:/onionmx/milter.sock, default_action=accept }'), [
    { address: 'unix:/a.sock', settings: {} },
    { address: 'inet:127.0.0.1:8895', settings: {} },
    { address: 'unix:/onionmx/milter.sock', settings: { default_action: 'accept' } },
  ]);
  assert.deepEqual(parseMilterList(''), []);
  assert.deepEqual(parseTableList('pcre:/a, regexp:/b  hash:/c'), ['pcre:/a', 'regexp:/b', 'hash:/c']);
});

test("our socket as a chrooted smtpd names it, as a path, or as Postfix's and Sendmail's inet syntax", () => {
  assert.equal(sameSocket('unix:/onionmx/milter.sock', 'unix:/var/spool/postfix/onionmx/milter.sock', '/var/spool/postfix'), true);
  assert.equal(sameSocket('unix:/var/spool/postfix/onionmx/milter.sock', 'unix:/var/spool/postfix/onionmx/milter.sock', '/var/spool/postfix'), true);
  assert.equal(sameSocket('unix:/other.sock', 'unix:/var/spool/postfix/onionmx/milter.sock', '/var/spool/postfix'), false);
  assert.equal(sameSocket('inet:localhost:8895', 'inet:8895@127.0.0.1', undefined), true);
  assert.equal(sameSocket('inet:127.0.0.1:8896', 'inet:127.0.0.1:8895', undefined), false);
});

test('smtpd_milters must name us; milter_default_action (or our own default_action) must not be accept', () => {
  const ours = 'unix:/var/spool/postfix/onionmx/milter.sock';
  assert.deepEqual(judgeMilterSettings(view({ smtpd_milters: 'unix:/onionmx/milter.sock' }), ours).map((r) => r.status), ['PASS', 'PASS']);
  const missing = judgeMilterSettings(view({ smtpd_milters: '' }), ours);
  assert.equal(missing[0]?.status, 'FAIL');
  assert.match(missing[0]?.detail ?? '', /\(empty\) does not name/);
  const accept = judgeMilterSettings(view({ smtpd_milters: 'unix:/onionmx/milter.sock', milter_default_action: 'accept' }), ours);
  assert.equal(accept[1]?.status, 'FAIL');
  assert.match(accept[1]?.fix ?? '', /milter_default_action = tempfail/);
  const own = judgeMilterSettings(view({ smtpd_milters: '{ unix:/onionmx/milter.sock, default_action=accept }' }), ours);
  assert.match(own[1]?.detail ?? '', /default_action of unix:\/onionmx\/milter.sock = accept/);
  assert.equal(own[1]?.status, 'FAIL');
});

test('the header check must FILTER to a transport master.cf defines, whichever it is', async () => {
  const v = view({ milter_header_checks: 'pcre:/t/in' });
  const good = await checkHeaderTable(v, HEADER, lookupFrom({ 'pcre:/t/in': 'FILTER smtptor:[abc.onion]:25' }), 'X-Onion-Route');
  assert.equal(good.result.status, 'PASS', good.result.detail);
  assert.deepEqual(good.filter, { transport: 'smtptor', nexthop: '[abc.onion]:25' });
  const relay = await checkHeaderTable(v, HEADER, lookupFrom({ 'pcre:/t/in': 'FILTER onionrelay:unix:/onionmx/relay.sock' }), 'X-Onion-Route');
  assert.equal(relay.result.status, 'PASS', relay.result.detail);
  assert.deepEqual(relay.filter, { transport: 'onionrelay', nexthop: 'unix:/onionmx/relay.sock' });
  const unknown = await checkHeaderTable(v, HEADER, lookupFrom({ 'pcre:/t/in': 'FILTER nosuch:[abc.onion]:25' }), 'X-Onion-Route');
  assert.match(unknown.result.detail, /no "nosuch unix" service/);
  assert.equal((await checkHeaderTable(v, HEADER, lookupFrom({}), 'X-Onion-Route')).result.status, 'FAIL');
  assert.match((await checkHeaderTable(v, HEADER, lookupFrom({ 'pcre:/t/in': 'IGNORE' }), 'X-Onion-Route')).result.detail, /not FILTER/);
  assert.match((await checkHeaderTable(v, HEADER, lookupFrom({ 'pcre:/t/in': new Error('unsupported dictionary type: pcre') }), 'X-Onion-Route')).result.detail, /cannot query/);
  assert.match((await checkHeaderTable(view({}), HEADER, lookupFrom({}), 'X-Onion-Route')).result.detail, /milter_header_checks is empty/);
});

test("the outbound header is stripped by the transport's own -o header checks, main.cf's, or the relay", async () => {
  const strip = lookupFrom({ 'pcre:/etc/postfix/onion_smtp_header_checks': 'IGNORE', 'pcre:/main': 'IGNORE' });
  const smtptor = { transport: 'smtptor', nexthop: '[abc.onion]:25' };
  const onionrelay = { transport: 'onionrelay', nexthop: 'unix:/onionmx/relay.sock' };
  const relaySocket = 'unix:/var/spool/postfix/onionmx/relay.sock';
  const own = await checkOutboundStrip(view({}), smtptor, HEADER, strip, undefined);
  assert.equal(own.status, 'PASS');
  assert.match(own.detail, /smtptor's -o smtp_header_checks/);
  const kept = await checkOutboundStrip(view({ smtp_header_checks: 'pcre:/main' }), smtptor, HEADER, lookupFrom({}), undefined);
  assert.equal(kept.status, 'FAIL');
  assert.match(kept.fix ?? '', /\/\^X-Onion-Route:\/ IGNORE/);
  const lmtpMain = await checkOutboundStrip(view({ lmtp_header_checks: 'pcre:/main' }), onionrelay, HEADER, strip, undefined);
  assert.match(lmtpMain.detail, /^lmtp_header_checks: pcre:\/main answers IGNORE/);
  const intoRelay = await checkOutboundStrip(view({}), onionrelay, HEADER, lookupFrom({}), relaySocket);
  assert.equal(intoRelay.status, 'PASS');
  assert.match(intoRelay.detail, /to unix:\/onionmx\/relay\.sock, the built-in relay/);
  assert.equal((await checkOutboundStrip(view({}), onionrelay, HEADER, lookupFrom({}), undefined)).status, 'FAIL');
  // LMTP somewhere else than the relay: only the header checks count.
  assert.equal((await checkOutboundStrip(view({}), { transport: 'onionrelay', nexthop: 'unix:/elsewhere.sock' }, HEADER, lookupFrom({}), relaySocket)).status, 'FAIL');
  assert.match((await checkOutboundStrip(view({}), { transport: 'nosuch', nexthop: undefined }, HEADER, strip, undefined)).detail, /no "nosuch unix" service/);
});

test('the onion-facing smtpd is a loopback smtpd that runs no milters', () => {
  assert.deepEqual(onionFacingSmtpds(view({})), [{ host: '127.0.0.1', port: 2525 }]);
});
