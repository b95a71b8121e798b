// Tor's connect failures as SMTP replies for the MTA: one row per code, with the enhanced status
// code (RFC 3463) and whether the MTA should retry. Only an invalid onion address (F6) is
// permanent; client authorization (F4, F5) and a SocksPort that is not Tor's are the operator's
// to fix, so they defer and say so rather than bounce mail that would go through once fixed. Pure.
import type { TorConnectFailure } from '../../tor/socks-connect.ts';
import type { OnionTarget } from '../../resolve/types.ts';
import type { SmtpReply } from '../envelope.ts';
import { formatSocksEndpoint, type SocksEndpoint } from '../../tor/socks-endpoint.ts';
import { socksReplyInfo } from '../../tor/socks-reply.ts';
import { reply, targetLabel } from './replies.ts';

interface Row {
  readonly code: number;
  readonly enhanced: string;
  /** What the MTA's log line should make the operator think of; `{what}` is Tor's own words. */
  readonly text: string;
}

const RETRY = 'the MTA will retry';
const CONFIG = 'configuration problem here';

/** By TorConnectFailure.code: Tor's REP byte in hex, or the failure kind. */
export const TOR_FAILURE_REPLIES: Readonly<Record<string, Row>> = {
  // X.4.3 "directory server failure": the onion's descriptor lives in Tor's HSDir directory.
  F0: { code: 451, enhanced: '4.4.3', text: `{what}; ${RETRY}` },
  F1: { code: 451, enhanced: '4.4.3', text: `{what}; ${RETRY}` },
  // X.4.1 "no answer from host".
  F2: { code: 451, enhanced: '4.4.1', text: `{what}; ${RETRY}` },
  F3: { code: 451, enhanced: '4.4.1', text: `{what}; ${RETRY}` },
  F7: { code: 451, enhanced: '4.4.1', text: `{what}; ${RETRY}` },
  // X.3.5 "system incorrectly configured": our Tor lacks (or has a wrong) client authorization key.
  F4: { code: 451, enhanced: '4.3.5', text: `{what}: ${CONFIG}, add the onion's key to Tor's ClientOnionAuthDir` },
  F5: { code: 451, enhanced: '4.3.5', text: `{what}: ${CONFIG}, renew the onion's key in Tor's ClientOnionAuthDir` },
  // X.1.2 "bad destination system address": the route's onion cannot exist.
  F6: { code: 550, enhanced: '5.1.2', text: '{what}; the route for this domain names an onion that cannot exist' },
  '01': { code: 451, enhanced: '4.4.0', text: `{what}; ${RETRY}` },
  '02': { code: 451, enhanced: '4.3.5', text: `{what}: ${CONFIG}, check Tor's SocksPolicy and the SocksPort flags` },
  '03': { code: 451, enhanced: '4.4.0', text: `{what} (is Tor connected to the Tor network?); ${RETRY}` },
  // Without ExtendedErrors Tor answers 04 for an onion it cannot find.
  '04': { code: 451, enhanced: '4.4.4', text: `{what}; ${RETRY} (add ExtendedErrors to the SocksPort for Tor's precise reason)` },
  '05': { code: 451, enhanced: '4.4.1', text: `{what}; ${RETRY}` },
  '06': { code: 451, enhanced: '4.4.1', text: `{what}; ${RETRY}` },
  '07': { code: 451, enhanced: '4.3.5', text: `{what}: ${CONFIG}, tor.socks does not point at Tor's SocksPort` },
  '08': { code: 451, enhanced: '4.3.5', text: `{what}: ${CONFIG}, tor.socks does not point at Tor's SocksPort` },
  timeout: { code: 451, enhanced: '4.4.1', text: `{what}; ${RETRY}` },
  'proxy-unreachable': { code: 451, enhanced: '4.4.1', text: `Tor not running or tor.socks wrong: {what}; ${RETRY}` },
  'proxy-auth': { code: 451, enhanced: '4.3.5', text: `{what}: ${CONFIG}, tor.socks does not point at Tor's SocksPort` },
  'proxy-protocol': { code: 451, enhanced: '4.3.5', text: `{what}: ${CONFIG}, tor.socks does not point at Tor's SocksPort` },
  aborted: { code: 451, enhanced: '4.3.0', text: '{what}' },
};

/** Unknown REP bytes (proposal 304: expect new codes): temporary, Tor's words kept. */
const UNKNOWN: Row = { code: 451, enhanced: '4.4.0', text: `{what}; ${RETRY}` };

/** The reply for every recipient of a destination Tor could not connect to. */
export function torFailureReply(failure: TorConnectFailure, target: OnionTarget, proxy: SocksEndpoint): SmtpReply {
  const row = TOR_FAILURE_REPLIES[failure.code] ?? UNKNOWN;
  return reply(row.code, row.enhanced, `${row.text.replace('{what}', describe(failure, target, proxy))} [Tor code ${failure.code}]`);
}

/**
 * Tor's reason in words, first: `mailq` shows a deferral's first 100 characters and Exim's lmtp
 * transport reads a reply into 256 bytes, so a refusal leads with Tor's words and leaves out the
 * proxy (tor.socks is in the config). connectViaTor's other messages name the proxy, which is
 * what is wrong there, but not always the destination.
 */
function describe(failure: TorConnectFailure, target: OnionTarget, proxy: SocksEndpoint): string {
  const label = targetLabel(target);
  if (failure.kind === 'socks-reply' && failure.rep !== undefined) return `Tor: ${socksReplyInfo(failure.rep).words}, for ${label}`;
  if (failure.message.includes(label)) return failure.message;
  const via = formatSocksEndpoint(proxy);
  return failure.message.includes(via) ? `${failure.message} (for ${label})` : `${failure.message} (for ${label} via ${via})`;
}
