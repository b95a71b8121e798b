// The subcommand registry. Each entry's module is loaded only when that command runs, so
// `resolve` does not pay for the milter server's imports and vice versa.
export interface Command {
  readonly summary: string;
  run(args: readonly string[]): Promise<number>;
}

export const commands: Readonly<Record<string, Command>> = {
  serve: {
    summary: 'run the milter daemon (SIGHUP reloads, SIGTERM drains)',
    run: async (args) => (await import('./serve.ts')).runServe(args),
  },
  check: {
    summary: 'validate the configuration and maps, printing every problem with file and line',
    run: async (args) => (await import('./check.ts')).runCheck(args),
  },
  export: {
    summary: 'write the static maps as a Postfix transport file, an Exim lookup file or a Sendmail mailertable',
    run: async (args) => (await import('./export.ts')).runExport(args),
  },
  resolve: {
    summary: 'print the routing decision for domains or addresses',
    run: async (args) => (await import('./resolve.ts')).runResolve(args),
  },
  probe: {
    summary: 'connect to the onion route of domains through Tor: greeting, EHLO, Tor error codes in words',
    run: async (args) => (await import('./probe.ts')).runProbe(args),
  },
  'srv-record': {
    summary: 'print the _onion-mx._tcp SRV record to publish for a domain and its onion',
    run: async (args) => (await import('./srv-record.ts')).runSrvRecord(args),
  },
  'check-relay': {
    summary: 'audit the SMTP listener behind your onion service for open relay (never sends DATA)',
    run: async (args) => (await import('./check-relay.ts')).runCheckRelay(args),
  },
  verify: {
    summary: 'check a published _onion-mx._tcp record: DNSSEC, targets, expected onion, maps, SMTP greeting',
    run: async (args) => (await import('./verify.ts')).runVerify(args),
  },
  map: {
    summary: 'map check <file>...: review OnionMX map.yml files (schema, v3 onions, duplicates, order, SRV)',
    run: async (args) => (await import('./map-check.ts')).runMap(args),
  },
};
