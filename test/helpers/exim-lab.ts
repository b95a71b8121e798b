// The Exim lab: the shared lab (mta-lab.ts; started by exim.test.ts through startNetnsWorker), in
// which the daemon answers Exim's readsocket lookups on a unix socket (reachable for the Exim
// user's group) and its relay takes Exim's onion mail over LMTP on a loopback port. Exim runs
// examples/exim/exim.conf, with only paths and ports defined in front; no socks_proxy, no Tor DNS.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runMtaLab, smtpDialog } from './mta-lab.ts';
import { EXIM_USER, eximBinary } from './exim-install.ts';
import { startExim, type SubmitResult } from './exim.ts';
import { EXIM_EXAMPLE, type LabInfo } from './exim-lab-fixtures.ts';

runMtaLab({
  name: 'exim',
  config: ({ dir, relayPort }) => ({
    'milter.listen': 'inet:127.0.0.1:0',
    // Exim runs its ACLs as the Exim user: the lookup socket must be reachable for that group.
    'milter.socket_group': EXIM_USER,
    'lookup.readsocket': `unix:${join(dir, 'lookup.sock')}`,
    // The example's smtp transport speaks LMTP to the relay over loopback TCP.
    'relay.listen': `inet:127.0.0.1:${relayPort}`,
  }),
  startMta: async ({ dir, resolver, tor, relayPort }) => {
    const exim = await startExim({
      binary: eximBinary(),
      config: readFileSync(EXIM_EXAMPLE, 'utf8'),
      macros: { ONIONMX_SOCKET: join(dir, 'lookup.sock'), ONIONMX_RELAY_PORT: String(relayPort) },
      // Exim's default limit is 50 MB: the suite's 50 MB message (plus headers) must fit.
      main: { message_size_limit: '60M' },
    });
    return {
      port: exim.port,
      stop: () => exim.stop(),
      handlers: {
        info: (): LabInfo => ({ eximPort: exim.port, torPort: tor.port }),
        /** The reply code of each command (0 once the server has closed the connection). */
        smtpDialog: async (lines: string[]): Promise<number[]> => (await smtpDialog(exim.port, lines)).map((r) => r.code),
        submit: (args: string[], message: string): Promise<SubmitResult> => exim.submit(args, message),
        resolverQuestions: (): readonly string[] => resolver.questions,
        /** The first mainlog match after `since` (multi-line mode: ^ and $ match at each line). */
        waitForLog: async (pattern: string, since: number): Promise<string> => (await exim.waitForLog(new RegExp(pattern, 'm'), { since }))[0],
        logMark: (): number => exim.logMark(),
        mainLog: (): string => exim.mainLog(),
        panicLog: (): string => exim.panicLog(),
        exim: (args: string[]): Promise<string> => exim.run(args),
      },
    };
  },
});
