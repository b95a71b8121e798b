// Tor faults, on the relay's path (Postfix -> lmtp onionrelay -> relay -> SocksPort stand-in). The
// milter keeps tagging (health probes are off), so onion mail is queued by Postfix and must wait
// there, deferred, until Tor is back: never the clearnet.
import type { FakeTorReply } from '../helpers/fake-tor.ts';
import { ONION } from './lab.ts';
import type { Cell } from './matrix.ts';

const reply = (r: FakeTorReply): Pick<Cell, 'inject' | 'heal'> => ({
  inject: (lab) => {
    lab.tor.setReply(ONION, r);
    return Promise.resolve();
  },
  heal: (lab) => {
    lab.tor.setReply(ONION, undefined);
    return Promise.resolve();
  },
});

export const torCells: readonly Cell[] = [
  { group: 'Tor', name: 'SocksPort down', smoke: true, cutsInFlight: true, inject: (lab) => lab.stopTor(), heal: (lab) => lab.restartTor() },
  { group: 'Tor', name: 'refusing (F2 introduction failed)', ...reply({ kind: 'fail', rep: 0xf2 }) },
  { group: 'Tor', name: 'refusing (05 connection refused)', ...reply({ kind: 'fail', rep: 0x05 }) },
  { group: 'Tor', name: 'hanging (no SOCKS reply)', ...reply({ kind: 'hang' }) },
  { group: 'Tor', name: 'slow (1 s per connect)', ...reply({ kind: 'slow', delayMs: 1000 }) },
];
