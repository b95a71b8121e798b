// The Exim lab: the shared lab (mta-lab.ts; started by exim.test.ts through startNetnsWorker), in
// which the MTA's resolver on 127.0.0.1:53 is the Tor DNSPort stand-in Exim's socks_proxy routing
// relies on (AutomapHostsOnResolve), and the daemon answers Exim's readsocket lookups on a unix
// socket. Exim runs examples/exim/exim.conf, with only paths and ports defined in front.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runMtaLab, smtpDialog } from './mta-lab.ts';
import { EXIM_USER, eximBinary } from './exim-install.ts';
import { startExim, type SubmitResult } from './exim.ts';
import { EXIM_EXAMPLE, type LabInfo } from './exim-lab-fixtures.ts';

runMtaLab({
  name: 'exim',
  config: ({ dir }) => ({
    'milter.listen': 'inet:127.0.0.1:0',
    // Exim runs its ACLs as the Exim user: the lookup socket must be reachable for that group.
    'milter.socket_group': EXIM_USER,
    'lookup.readsocket': `unix:${join(dir, 'lookup.sock')}`,
  }),
  startMta: async ({ dir, resolver, tor }) => {
    const exim = await startExim({
      binary: eximBinary(),
      config: readFileSync(EXIM_EXAMPLE, 'utf8'),
      macros: { ONIONMX_SOCKET: join(dir, 'lookup.sock'), ONIONMX_TOR_SOCKS: `127.0.0.1 port=${tor.port}` },
    });
    return {
      port: exim.port,
      stop: () => exim.stop(),
      handlers: {
        info: (): LabInfo => ({ eximPort: exim.port, torPort: tor.port }),
        /** The reply code of each command (0 once the server has closed the connection). */
        smtpDialog: async (lines: string[]): Promise<number[]> => (await smtpDialog(exim.port, lines)).map((r) => r.code),
        submit: (args: string[], message: string): Promise<SubmitResult> => exim.submit(args, message),
        torDnsQuestions: (): readonly string[] => resolver.questions,
        mappings: (): [string, string][] => [...resolver.mappings],
        waitForLog: async (pattern: string, since: number): Promise<string> => (await exim.waitForLog(new RegExp(pattern), { since }))[0],
        logMark: (): number => exim.logMark(),
        mainLog: (): string => exim.mainLog(),
        panicLog: (): string => exim.panicLog(),
        exim: (args: string[]): Promise<string> => exim.run(args),
      },
    };
  },
});
