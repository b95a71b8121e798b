// Names shared by the Exim and Sendmail labs (mta-lab.ts, run in the namespace) and their suites
// (exim.test.ts, sendmail.test.ts, asserting from outside).

/** Published with a DNSSEC-authenticated `_onion-mx._tcp` SRV record pointing at ONION. */
export const ONION_DOMAIN = 'onion-routed.example';
/** MX on 127.0.0.2, no SRV. */
export const CLEARNET_DOMAIN = 'clearnet.example';
export const ONION = 'pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion';
/** Where the lab's Tor DNSPort stand-in maps `.onion` names (unroutable in the lab): only an MTA that leaks onion names to DNS would see one. */
export const VIRTUAL_FIRST_ADDRESS = '10.192.0.1';

/** SRV to TOR_F2_ONION, for which the fake Tor answers F2 (introduction failed). */
export const TOR_F2_DOMAIN = 'tor-f2.example';
export const TOR_F2_ONION = 'xa4r2iadxm55fbnqgwwi5mymqdcofiu3w6rpbtqn7b2dyn7mgwj64jyd.onion';
/** SRV to TOR_F6_ONION, for which the fake Tor answers F6 (invalid onion address). */
export const TOR_F6_DOMAIN = 'tor-f6.example';
export const TOR_F6_ONION = 'aj3nsqqcksrrc5cye5etjsoewz6jrygpekzwoko3q6wyxjlb3dgasfid.onion';
/** SRV to TOR_F4_ONION, for which the fake Tor answers F4 (client authorization required). */
export const TOR_F4_DOMAIN = 'tor-f4.example';
export const TOR_F4_ONION = '7jedifd7nzuqynut573bgnqemqb43cxcufhtdm6ea42yk2jdsvstxvad.onion';
/** SRV to TOR_F7_ONION, for which the fake Tor answers F7 (introduction timed out). */
export const TOR_F7_DOMAIN = 'tor-f7.example';
export const TOR_F7_ONION = 'df7wwi7bnsctfrvlza4pvtk6u6e34ddwwkjagnadtp5iwpjwrvq5bpad.onion';
/** Routed to ONION by the daemon's pin map (which `unpin` empties with a SIGHUP); MX: the clearnet sink. */
export const PINNED_DOMAIN = 'pinned.example';
/** The onion's server answers RCPT for this local part with 550 5.1.1. */
export const UNKNOWN_USER = 'nobody-here';
/** The onion's server answers 451 at the first final dot of a message whose Subject contains this. */
export const TEMPFAIL_ONCE = '[451 once]';
/** The onion's server never answers the final dot of a message whose Subject contains this. */
export const HANG_AFTER_DATA = '[hang]';
/** The onion's server never answers the first final dot of a message whose Subject contains this (later ones: 250). */
export const HANG_ONCE = '[hang once]';
/** relay.timeouts.data_done in the labs: how long the relay waits for that answer. */
export const LAB_DATA_DONE_TIMEOUT = '3s';
/** The relay's EHLO to the onions (relay.helo_name in examples/config.yml): mail that came through the relay. */
export const RELAY_HELO = '[127.0.0.1]';

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
  /** The RFC 1929 user name: the relay isolates each onion with its own. */
  readonly username: string | undefined;
}

/** The relay's delivery log line (`relay delivery`), as the `relayDelivery` RPC returns it. */
export interface RelayDeliveryLine {
  readonly relay: string;
  readonly recipients: readonly { readonly domain: string; readonly onion?: string; readonly outcome: string; readonly reply: string; readonly tor?: string }[];
  readonly delivered?: number;
}

/** The daemon's memory from /proc/<pid>/status (the `daemonMemory` RPC), in bytes. */
export interface DaemonMemory {
  readonly rss: number;
  /** Peak RSS since the last `resetDaemonPeak`. */
  readonly hwm: number;
}

/** What the `smtpLarge` RPC did: the final reply, and what the onion sink received for it. */
export interface LargeMessageResult {
  readonly data: { readonly code: number; readonly raw: string };
  /** Octets the sink received (the MTA's own headers included). */
  readonly size: number;
  /** The body arrived as generated, byte for byte (compared by SHA-256 of the received tail). */
  readonly bodyIntact: boolean;
}
