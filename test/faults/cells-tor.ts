// Tor faults, on the relay's path (Postfix -> lmtp onionrelay -> relay -> SocksPort stand-in). The
// milter keeps tagging (health probes are off), so onion mail is queued by Postfix and must wait
// there, deferred, until Tor is back: never the clearnet.
import type { FakeTorReply } from '../helpers/fake-tor.ts';
import { ONION } from './lab.ts';
import type { Cell } from './matrix.ts';

/**
 * With the relay's pool on, deliveries reuse sessions opened before the fault and never meet it;
 * these cells turn the pool off so that every delivery opens its own Tor connection.
 */
const reply = (r: FakeTorReply): Pick<Cell, 'before' | 'inject' | 'heal' | 'after'> => ({
  before: (lab) => lab.restartDaemon({ 'relay.pool.idle_time': '0s' }),
  after: (lab) => lab.restartDaemon(),
  inject: (lab) => {
    lab.tor.setReply(ONION, r);
    return Promise.resolve();
  },
  heal: (lab) => {
    lab.tor.setReply(ONION, undefined);
    return Promise.resolve();
  },
});

/** Postfix delivers asynchronously: each Tor cell waits for this many relay deliveries under the fault. */
const RELAY_ATTEMPTS = 4;

export const torCells: readonly Cell[] = [
  { group: 'Tor', name: 'SocksPort down', smoke: true, cutsInFlight: true, relayAttempts: RELAY_ATTEMPTS, inject: (lab) => lab.stopTor(), heal: (lab) => lab.restartTor() },
  { group: 'Tor', name: 'refusing (F2 introduction failed)', relayAttempts: RELAY_ATTEMPTS, ...reply({ kind: 'fail', rep: 0xf2 }) },
  { group: 'Tor', name: 'refusing (05 connection refused)', relayAttempts: RELAY_ATTEMPTS, ...reply({ kind: 'fail', rep: 0x05 }) },
  { group: 'Tor', name: 'hanging (no SOCKS reply)', relayAttempts: RELAY_ATTEMPTS, ...reply({ kind: 'hang' }) },
  { group: 'Tor', name: 'slow (1 s per connect)', relayAttempts: RELAY_ATTEMPTS, ...reply({ kind: 'slow', delayMs: 1000 }) },
];
