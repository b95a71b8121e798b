// The selftest's Tor checks: the SocksPort answers a SOCKS5 greeting, and a chosen onion answers
// SMTP through it (the probe of `onionmx-milter probe`).
import { connect } from 'node:net';
import { errorMessage } from '../errors.ts';
import { formatSocksEndpoint, type SocksEndpoint } from '../tor/socks-endpoint.ts';
import { describeProbe, probeOnion } from '../tor/probe.ts';
import { fail, pass, type CheckResult } from './checklist.ts';

export const SOCKS_CHECK = 'tor SocksPort';
export const ONION_CHECK = 'onion answers SMTP via Tor';

/** SOCKS5 greeting offering NO AUTH and USERNAME/PASSWORD, as we connect; Tor selects one. */
const GREETING = Buffer.from([0x05, 0x02, 0x00, 0x02]);

export type SocksAnswer = { readonly ok: true; readonly method: number } | { readonly ok: false; readonly message: string };

export function socksGreeting(proxy: SocksEndpoint, timeoutMs: number): Promise<SocksAnswer> {
  return new Promise((resolve) => {
    const socket = proxy.kind === 'tcp' ? connect({ host: proxy.host, port: proxy.port }) : connect({ path: proxy.path });
    let got = Buffer.alloc(0);
    const finish = (answer: SocksAnswer): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => {
      finish({ ok: false, message: `no answer within ${timeoutMs} ms` });
    }, timeoutMs);
    socket.on('connect', () => {
      socket.write(GREETING);
    });
    socket.on('error', (err) => {
      finish({ ok: false, message: errorMessage(err) });
    });
    socket.on('close', () => {
      finish({ ok: false, message: 'closed the connection without an answer' });
    });
    socket.on('data', (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      if (got.length < 2) return;
      if (got[0] !== 0x05) finish({ ok: false, message: `answered 0x${got.subarray(0, 2).toString('hex')}: not SOCKS5 (an HTTP or control port?)` });
      else if (got[1] === 0xff) finish({ ok: false, message: 'accepts neither NO AUTH nor USERNAME/PASSWORD' });
      else finish({ ok: true, method: got[1] ?? 0 });
    });
  });
}

export function judgeSocks(proxy: SocksEndpoint, answer: SocksAnswer): CheckResult {
  const label = formatSocksEndpoint(proxy);
  if (answer.ok) return pass(SOCKS_CHECK, `${label} speaks SOCKS5 (method ${answer.method === 0 ? 'NO AUTH' : 'USERNAME/PASSWORD'})`);
  return fail(SOCKS_CHECK, `${label}: ${answer.message}`, `start tor (systemctl start tor) with "SocksPort ${label} ExtendedErrors" in torrc, or set tor.socks to its SocksPort`);
}

export async function checkOnion(proxy: SocksEndpoint, target: { readonly onion: string; readonly port: number }, timeouts: { readonly connectMs: number; readonly smtpMs: number }): Promise<CheckResult> {
  const probe = await probeOnion({ proxy, ...target, connectTimeoutMs: timeouts.connectMs, greetingTimeoutMs: timeouts.smtpMs, commandTimeoutMs: timeouts.smtpMs });
  if (probe.ok) return pass(ONION_CHECK, `${target.onion}:${target.port} greeted "${probe.greeting}"`);
  return fail(ONION_CHECK, describeProbe(probe), probe.permanent ? 'the onion refuses us for good: ask its operator (or pick another with --onion)' : 'retry later (a new onion service needs minutes to publish); onionmx-milter probe --verbose shows each step');
}
