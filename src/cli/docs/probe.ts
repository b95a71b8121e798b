import type { CommandDoc } from '../command-doc.ts';
import { CONFIG_OPTION, JSON_OPTION } from './common.ts';

export const probeDoc = {
  name: 'probe',
  summary: 'connect to the onion route of domains through Tor: greeting, EHLO, Tor error codes in words',
  operands: '<domain|address|onion[:port]>...',
  options: {
    config: CONFIG_OPTION,
    json: JSON_OPTION,
    socks: { type: 'string', arg: 'ADDR', help: "Tor's SocksPort (default: tor.socks from the configuration)" },
    timeout: { type: 'string', arg: 'DURATION', help: 'SOCKS connect deadline, e.g. 30s (default: tor.connect_timeout, 150s)' },
    ehlo: { type: 'string', arg: 'NAME', help: 'EHLO argument (default [127.0.0.1], which names no host of ours)' },
    verbose: { type: 'boolean', short: 'v', help: 'log resolver details to standard error' },
  },
  description: [
    "Resolves each input's route as the daemon would, connects to the onion through Tor's SocksPort (host-name CONNECT, one isolation username per onion), reads the SMTP greeting, sends EHLO and QUIT, and reports the route, connect time, greeting and EHLO capabilities, or the failure in words with Tor's extended error code (F0-F7) when Tor sent one.",
  ],
  exit: [
    [0, 'all reachable'],
    [69, 'no route, an invalid onion, or Tor F4/F5/F6: will not heal by waiting'],
    [75, 'other failures (F0-F3, F7, 01-06, timeouts, lookup failures)'],
    [78, 'bad configuration'],
  ],
} as const satisfies CommandDoc;
