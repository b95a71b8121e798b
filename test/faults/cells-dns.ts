// DNS faults: the fixture server's behaviour is swapped for the fault and back. Recipient domains
// are fresh per message, so every onion-srv message needs its own SRV lookup (no cache hides it).
import type { Behaviour } from '../helpers/dns-server.ts';
import { HEALTHY_DNS, SPOOF_ONION, zoneReply } from './lab.ts';
import type { Cell } from './matrix.ts';

const swap = (behaviour: Behaviour): Pick<Cell, 'inject' | 'heal'> => ({
  inject: (lab) => {
    lab.dns.setBehaviour(behaviour);
    return Promise.resolve();
  },
  heal: (lab) => {
    lab.dns.setBehaviour(HEALTHY_DNS);
    return Promise.resolve();
  },
});

export const dnsCells: readonly Cell[] = [
  { group: 'DNS', name: 'SERVFAIL', smoke: true, ...swap(() => ({ kind: 'servfail' })) },
  { group: 'DNS', name: 'timeout (no answer)', ...swap(() => ({ kind: 'drop' })) },
  {
    group: 'DNS',
    name: 'truncated UDP, answer over TCP',
    ...swap((q) => (q.transport === 'udp' ? zoneReply(q.name, { kind: 'truncated' }) : zoneReply(q.name))),
    check: (lab) => (lab.dns.counts.tcp === 0 ? ['no query came over TCP'] : []),
  },
  {
    group: 'DNS',
    name: 'spoofed reply: wrong ID first',
    ...swap((q) => [zoneReply(q.name, { idOffset: 1, answers: spoofAnswer(q.name) }), zoneReply(q.name)]),
  },
  {
    group: 'DNS',
    name: 'spoofed reply: wrong question first',
    ...swap((q) => [zoneReply(q.name, { question: { name: `_onion-mx._tcp.evil.example` }, answers: spoofAnswer(q.name) }), zoneReply(q.name)]),
  },
  {
    group: 'DNS',
    name: 'spoofed reply: off-path (other source port) first',
    ...swap((q) => [zoneReply(q.name, { fromOtherSocket: true, answers: spoofAnswer(q.name) }), zoneReply(q.name)]),
  },
  {
    group: 'DNS',
    name: 'resolver restart',
    inject: (lab) => lab.stopDns(),
    heal: (lab) => lab.restartDns(),
  },
  {
    group: 'DNS',
    name: 'AD bit missing (dnssec: required)',
    srvMayGoClearnet: true,
    ...swap((q) => zoneReply(q.name, { ad: false })),
  },
];

function spoofAnswer(name: string): readonly { name: string; type: 'SRV'; ttl: number; data: unknown }[] {
  return [{ name, type: 'SRV', ttl: 300, data: { priority: 0, weight: 0, port: 25, target: SPOOF_ONION } }];
}
