// The Sendmail lab: the shared lab (mta-lab.ts; started by sendmail.test.ts through
// startNetnsWorker) with
// - two more domains with the clearnet MX whose SRV query fails: SERVFAIL, or no answer;
// - the resolver on 127.0.0.1:53 there to record what Sendmail asks (Sendmail has no Tor DNS,
//   so any `.onion` question it records is a leak);
// - torsocks.conf pointing at the fake Tor, which torsocks reaches with the onion name (ATYP 3)
//   (an `E` line in the .cf);
// - the milter and the Sendmail socket map of `onionmx-milter serve` on unix sockets;
// - Sendmail from examples/sendmail/onionmx.mc, with only paths changed.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runMtaLab } from './mta-lab.ts';
import { sendmailInstall } from './sendmail-install.ts';
import { startSendmail, type RunResult } from './sendmail.ts';
import { CLEARNET_DOMAIN } from './mta-lab-fixtures.ts';
import { ONION_RELAY, SENDMAIL_EXAMPLE_MC, SERVFAIL_DOMAIN, SILENT_DOMAIN } from './sendmail-lab-fixtures.ts';

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
    'policy.route_mailers': ['smtp', 'esmtp', 'relay', 'smtptor'],
    'lookup.sendmail': `unix:${join(dir, 'sendmail.sock')}`,
  }),
  startMta: async ({ dir, resolver, tor }) => {
    const torsocksConf = join(dir, 'torsocks.conf');
    writeFileSync(torsocksConf, `TorAddress 127.0.0.1\nTorPort ${tor.port}\nOnionAddrRange 127.42.42.0/24\n`);
    const mc = readFileSync(SENDMAIL_EXAMPLE_MC, 'utf8').replaceAll('/run/onionmx-milter/', `${dir}/`).replaceAll('/usr/local/lib/onionmx-milter/onion-smtp-relay', ONION_RELAY);
    const sendmail = await startSendmail({ install: sendmailInstall(), mc, agentEnv: { TORSOCKS_CONF_FILE: torsocksConf } });
    return {
      port: sendmail.port,
      stop: () => sendmail.stop(),
      handlers: {
        info: () => ({ port: sendmail.port }),
        /** `sendmail -C submit.cf <args>`, input on stdin: the MSP, as `sendmail -t` runs on a stock install. */
        msp: (args: string[], input = ''): Promise<RunResult> => sendmail.submit(args, input),
        /** `sendmail -C sendmail.cf <args>`: the MTA's own configuration (`-bp`, or `-Am` style submission). */
        mta: (args: string[], input = ''): Promise<RunResult> => sendmail.run(args, input),
        resolverQuestions: (): readonly string[] => resolver.questions,
        sendmailOutput: (): string => sendmail.output(),
        cf: (): string => readFileSync(sendmail.cfFile, 'utf8'),
      },
    };
  },
});
