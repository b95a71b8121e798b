// Names shared by the Sendmail lab (runs in the namespace) and sendmail.test.ts.
import { fileURLToPath } from 'node:url';

export const SENDMAIL_LAB_SCRIPT = fileURLToPath(new URL('./sendmail-lab.js', import.meta.url));
export const SENDMAIL_EXAMPLE_MC = fileURLToPath(new URL('../../../examples/sendmail/onionmx.mc', import.meta.url));
export const ONION_RELAY = fileURLToPath(new URL('../../../examples/sendmail/onion-smtp-relay', import.meta.url));
export { CLEARNET_DOMAIN, ONION, ONION_DOMAIN } from './exim-lab-fixtures.ts';
