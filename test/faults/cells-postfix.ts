// Postfix's side: the daemon answering slower than milter_command_timeout (slow DNS behind it),
// and a daemon that accepts connections but never answers (SIGSTOP). milter_default_action =
// tempfail must turn both into 4xx, and the late answers must not hurt the daemon.
import { HEALTHY_DNS, zoneReply } from './lab.ts';
import type { Cell } from './matrix.ts';

export const postfixCells: readonly Cell[] = [
  {
    group: 'Postfix',
    name: 'daemon slower than milter_command_timeout (2 s DNS, 1 s timeout)',
    faulted: 6,
    before: async (lab) => {
      await lab.pf.postconf('-e', 'milter_command_timeout=1s');
      await lab.pf.reload();
      await lab.restartDaemon({ 'dns.timeout': '3s', 'dns.deadline': '4s' });
    },
    inject: (lab) => {
      lab.dns.setBehaviour((q) => zoneReply(q.name, { delayMs: 2000 }));
      return Promise.resolve();
    },
    heal: (lab) => {
      lab.dns.setBehaviour(HEALTHY_DNS);
      return Promise.resolve();
    },
    after: async (lab) => {
      await lab.pf.postconf('-e', 'milter_command_timeout=5s');
      await lab.pf.reload();
      await lab.restartDaemon();
    },
  },
  {
    group: 'Postfix',
    name: 'daemon frozen (SIGSTOP): milter timeouts',
    faulted: 4,
    inject: (lab) => {
      lab.daemon.child.kill('SIGSTOP');
      return Promise.resolve();
    },
    heal: (lab) => {
      lab.daemon.child.kill('SIGCONT');
      return Promise.resolve();
    },
  },
];
