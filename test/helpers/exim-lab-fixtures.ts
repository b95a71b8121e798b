// Names shared by the Exim lab (runs in the namespace) and exim.test.ts (asserts from outside).
import { fileURLToPath } from 'node:url';

export const EXIM_LAB_SCRIPT = fileURLToPath(new URL('./exim-lab.js', import.meta.url));
export const EXIM_EXAMPLE = fileURLToPath(new URL('../../../examples/exim/exim.conf', import.meta.url));
/** Published with a DNSSEC-authenticated `_onion-mx._tcp` SRV record pointing at ONION. */
export const ONION_DOMAIN = 'onion-routed.example';
/** MX on 127.0.0.2, no SRV. */
export const CLEARNET_DOMAIN = 'clearnet.example';
export const ONION = 'pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion';
/** Tor's VirtualAddrNetworkIPv4 as set in examples/exim/torrc: unroutable in the lab. */
export const VIRTUAL_FIRST_ADDRESS = '10.192.0.1';

export interface LabInfo {
  readonly eximPort: number;
  readonly torPort: number;
}
