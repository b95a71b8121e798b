import type { CommandDoc } from '../command-doc.ts';
import { CONFIG_OPTION } from './common.ts';

export const SERVE_GRACE_SECONDS = 20;

export const serveDoc = {
  name: 'serve',
  summary: 'run the milter daemon (SIGHUP reloads, SIGTERM drains)',
  options: {
    config: CONFIG_OPTION,
    grace: { type: 'string', arg: 'SECONDS', help: `how long SIGTERM/SIGINT let open MTA sessions finish before they are closed (default ${SERVE_GRACE_SECONDS})` },
    'allow-root': { type: 'boolean', help: 'started as root without user: in the configuration, keep running as root instead of refusing (not recommended)' },
  },
  description: [
    'Runs the milter daemon, the lookup servers and the metrics endpoint the configuration names. Without --config it reads /etc/onionmx-milter/config.yml when that exists, and otherwise runs with built-in defaults: milter on inet:127.0.0.1:8895, DNS from /etc/resolv.conf, DNSSEC required, the bundled OnionMX map.',
    'Started as root, it binds every listener, then switches to the user: (and group:) of the configuration: supplementary groups, group, user, in that order, checked afterwards; it never needs root again. Without user: it refuses to start as root, unless --allow-root. Started as that user already (systemd User=), it changes nothing.',
    'Logs go to standard output: JSON lines, or readable lines when it is a terminal (log.format).',
    'Signals: SIGHUP re-reads the configuration and the maps, as the unprivileged user (a broken new configuration is logged and the running one kept; listener, user and health changes need a restart); SIGTERM and SIGINT stop accepting connections and let open MTA sessions finish for up to --grace seconds, then exit. A second signal exits at once.',
  ],
  exit: [
    [0, 'stopped after a clean drain'],
    [70, 'internal error'],
    [71, 'switching to the unprivileged user failed'],
    [78, 'bad configuration, a listener that cannot be bound, started as root without user:, or an unknown user or group'],
  ],
} as const satisfies CommandDoc;
