// Names shared by the Exim and Sendmail labs (mta-lab.ts, run in the namespace) and their suites
// (exim.test.ts, sendmail.test.ts, asserting from outside).

/** Published with a DNSSEC-authenticated `_onion-mx._tcp` SRV record pointing at ONION. */
export const ONION_DOMAIN = 'onion-routed.example';
/** MX on 127.0.0.2, no SRV. */
export const CLEARNET_DOMAIN = 'clearnet.example';
export const ONION = 'pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion';
/** Tor's VirtualAddrNetworkIPv4 as set in examples/exim/torrc: unroutable in the lab. */
export const VIRTUAL_FIRST_ADDRESS = '10.192.0.1';

/** The routing header the daemon adds, and what it says for mail to ONION_DOMAIN. */
export const ROUTE_HEADER = 'X-Onion-Route';
export const EXPECTED_HEADER = `${ONION_DOMAIN}=${ONION}:25`;

/**
 * startNetnsWorker options for a lab (add its label): the MTA's libc resolver is the lab's on
 * 127.0.0.1:53 (one attempt, 2 s timeout), and /tmp is a private tmpfs (see netns.ts).
 */
export const LAB_NETNS = { privateTmp: true, resolvConf: 'nameserver 127.0.0.1\noptions attempts:1 timeout:2\n' } as const;

/** A SOCKS request as the lab's fake Tor saw it (the `socksRequests` RPC). */
export interface SocksSeen {
  readonly command: string;
  readonly atyp: number;
  readonly destination: string;
  readonly rep: number | undefined;
}
