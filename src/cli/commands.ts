// The subcommand registry: each command's description (its options, --help text and man page
// section, see command-doc.ts) and its runner. The runner's module is loaded only when that
// command runs, so `resolve` does not pay for the milter server's imports and vice versa.
import type { CommandDoc } from './command-doc.ts';
import { serveDoc } from './docs/serve.ts';
import { checkDoc } from './docs/check.ts';
import { exportDoc } from './docs/export.ts';
import { resolveDoc } from './docs/resolve.ts';
import { probeDoc } from './docs/probe.ts';
import { srvRecordDoc } from './docs/srv-record.ts';
import { checkRelayDoc } from './docs/check-relay.ts';
import { verifyDoc } from './docs/verify.ts';
import { mapCheckDoc } from './docs/map-check.ts';
import { selftestDoc } from './docs/selftest.ts';

export interface Command {
  readonly summary: string;
  /** What the command (or, for a group such as `map`, each of its subcommands) parses and documents. */
  readonly docs: readonly CommandDoc[];
  run(args: readonly string[]): Promise<number>;
}

export const commands: Readonly<Record<string, Command>> = {
  serve: {
    summary: serveDoc.summary,
    docs: [serveDoc],
    run: async (args) => (await import('./serve.ts')).runServe(args),
  },
  check: {
    summary: checkDoc.summary,
    docs: [checkDoc],
    run: async (args) => (await import('./check.ts')).runCheck(args),
  },
  export: {
    summary: exportDoc.summary,
    docs: [exportDoc],
    run: async (args) => (await import('./export.ts')).runExport(args),
  },
  resolve: {
    summary: resolveDoc.summary,
    docs: [resolveDoc],
    run: async (args) => (await import('./resolve.ts')).runResolve(args),
  },
  probe: {
    summary: probeDoc.summary,
    docs: [probeDoc],
    run: async (args) => (await import('./probe.ts')).runProbe(args),
  },
  'srv-record': {
    summary: srvRecordDoc.summary,
    docs: [srvRecordDoc],
    run: async (args) => (await import('./srv-record.ts')).runSrvRecord(args),
  },
  'check-relay': {
    summary: checkRelayDoc.summary,
    docs: [checkRelayDoc],
    run: async (args) => (await import('./check-relay.ts')).runCheckRelay(args),
  },
  verify: {
    summary: verifyDoc.summary,
    docs: [verifyDoc],
    run: async (args) => (await import('./verify.ts')).runVerify(args),
  },
  selftest: {
    summary: selftestDoc.summary,
    docs: [selftestDoc],
    run: async (args) => (await import('./selftest.ts')).runSelftestCommand(args),
  },
  map: {
    summary: `map check <file>...: ${mapCheckDoc.summary}`,
    docs: [mapCheckDoc],
    run: async (args) => (await import('./map-check.ts')).runMap(args),
  },
};
