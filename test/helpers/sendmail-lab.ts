// The Sendmail lab: the shared lab (mta-lab.ts; started by sendmail.test.ts through
// startNetnsWorker) with
// - two more domains with the clearnet MX whose SRV query fails: SERVFAIL, or no answer;
// - the resolver on 127.0.0.1:53 there to record what Sendmail asks (Sendmail has no Tor DNS,
//   so any `.onion` question it records is a leak);
// - the milter, the Sendmail socket map and the relay's LMTP listener of `onionmx-milter serve` on
//   unix sockets, header.transport `onionrelay` (the mailer the map answers), as onionmx.mc says;
// - Sendmail from examples/sendmail/onionmx.mc, with only paths changed: onion mail leaves through
//   the [IPC] LMTP mailer to the relay, which reaches the fake Tor; no torsocks anywhere.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runMtaLab } from './mta-lab.ts';
import { sendmailInstall } from './sendmail-install.ts';
import { startSendmail, type RunResult } from './sendmail.ts';
import { CLEARNET_DOMAIN } from './mta-lab-fixtures.ts';
import { SENDMAIL_EXAMPLE_MC, SERVFAIL_DOMAIN, SILENT_DOMAIN } from './sendmail-lab-fixtures.ts';

runMtaLab({
  name: 'sendmail',
  records: [
    // Same MX as the clearnet domain: were the daemon to fail open, Sendmail would deliver
    // these by MX to the clearnet sink, in the same SMTP transaction as a clearnet recipient.
    { name: SERVFAIL_DOMAIN, type: 'MX', ttl: 300, data: { preference: 10, exchange: `mx.${CLEARNET_DOMAIN}` } },
    { name: SILENT_DOMAIN, type: 'MX', ttl: 300, data: { preference: 10, exchange: `mx.${CLEARNET_DOMAIN}` } },
  ],
  // Only the daemon's SRV question fails; Sendmail's own MX and A lookups are answered.
  behaviour: (q) => {
    const name = q.name.toLowerCase();
    if (q.type === 'SRV' && name === `_onion-mx._tcp.${SERVFAIL_DOMAIN}`) return { kind: 'servfail' };
    if (q.type === 'SRV' && name === `_onion-mx._tcp.${SILENT_DOMAIN}`) return { kind: 'drop' };
    return { kind: 'zone', ad: true };
  },
  config: ({ dir }) => ({
    'milter.listen': `unix:${join(dir, 'milter.sock')}`,
    'milter.socket_group': null,
    'header.transport': 'onionrelay',
    'lookup.sendmail': `unix:${join(dir, 'sendmail.sock')}`,
  }),
  startMta: async ({ dir, resolver, relaySocket }) => {
    const mc = readFileSync(SENDMAIL_EXAMPLE_MC, 'utf8').replaceAll('/run/onionmx-milter/', `${dir}/`);
    if (!mc.includes(relaySocket)) throw new Error(`onionmx.mc does not name the relay socket ${relaySocket}`);
    const sendmail = await startSendmail({ install: sendmailInstall(), mc });
    return {
      port: sendmail.port,
      stop: () => sendmail.stop(),
      handlers: {
        info: () => ({ port: sendmail.port }),
        /** `sendmail -C submit.cf <args>`, input on stdin: the MSP, as `sendmail -t` runs on a stock install. */
        msp: (args: string[], input = ''): Promise<RunResult> => sendmail.submit(args, input),
        /** `sendmail -C sendmail.cf <args>`: the MTA's own configuration (`-bp`, or `-Am` style submission). */
        mta: (args: string[], input = ''): Promise<RunResult> => sendmail.run(args, input),
        /** The queue listing once it contains `present` and none of `absent` (regular expressions). */
        waitForQueue: (present: string, absent: string[] = []): Promise<string> =>
          sendmail.waitForQueue((l) => new RegExp(present).test(l) && absent.every((a) => !new RegExp(a).test(l))),
        queueFile: (id: string): string => sendmail.queueFile(id),
        resolverQuestions: (): readonly string[] => resolver.questions,
        sendmailOutput: (): string => sendmail.output(),
        cf: (): string => readFileSync(sendmail.cfFile, 'utf8'),
      },
    };
  },
});
