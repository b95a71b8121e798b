// Names shared by the Sendmail lab (runs in the namespace) and sendmail.test.ts; those both MTA
// labs share are in mta-lab-fixtures.ts.
import { fileURLToPath } from 'node:url';

export const SENDMAIL_LAB_SCRIPT = fileURLToPath(new URL('./sendmail-lab.js', import.meta.url));
export const SENDMAIL_EXAMPLE_MC = fileURLToPath(new URL('../../../examples/sendmail/onionmx.mc', import.meta.url));
/** MX mx.clearnet.example (the clearnet sink); its `_onion-mx._tcp` SRV query gets SERVFAIL. */
export const SERVFAIL_DOMAIN = 'lookup-trouble.example';
/** As SERVFAIL_DOMAIN, but its SRV query gets no answer at all (the lookup times out). */
export const SILENT_DOMAIN = 'lookup-silent.example';
