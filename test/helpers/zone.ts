// A real DNS lab for tests: zone files written and DNSSEC-signed at test time (ldns-keygen,
// ldns-signzone: signatures expire, so they are never committed), served by nsd, validated by
// unbound — all inside a loopback-only network namespace so unbound can never reach the internet.
// Queries run in the namespace too, through our compiled stub resolver (dns-query-cli.js).
import { execFile, type ChildProcess } from 'node:child_process';
import { writeFileSync, readFileSync, openSync, closeSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { stopChild } from './stop-child.ts';
import { createLoopbackNetns, type LoopbackNetns } from './loopback-netns.ts';
import { nsdZoneText, spawnNsd, type NsdProcess } from './nsd.ts';
import type { CliRequest, CliResult } from './dns-query-cli.ts';

const run = promisify(execFile);
const QUERY_CLI = join(dirname(fileURLToPath(import.meta.url)), 'dns-query-cli.js');

export interface LabZone {
  /** e.g. `onionmx.example` (avoid `.test`: unbound shadows it with a static local zone). */
  readonly origin: string;
  /** Zone-file lines relative to the origin; SOA (MINIMUM 60) and NS are added. */
  readonly records: readonly string[];
  readonly sign: boolean;
  /** Edits the signed zone text after signing: simulates a spoofed record. */
  readonly tamper?: (signed: string) => string;
}

export interface DnsLab {
  readonly dir: string;
  /** The loopback-only namespace nsd and unbound run in: run other programs there with `ip netns exec`. */
  readonly netns: string;
  /** Where nsd (authoritative) or unbound (validating) listens inside the namespace. */
  server(target: 'nsd' | 'unbound'): { readonly address: string; readonly port: number };
  /**
   * Runs dns-query-cli in the namespace against nsd (authoritative) or unbound (validating).
   * `trustAd: false` treats the (loopback) server as one whose AD bit, and Extended DNS Errors, are not trusted.
   */
  query(target: 'nsd' | 'unbound', request: Omit<CliRequest, 'server'> & { readonly trustAd?: boolean }): Promise<CliResult[]>;
  close(): Promise<void>;
}

const NSD_PORT = 5353;
const UNBOUND_PORT = 5354;

export async function startDnsLab(zones: readonly LabZone[]): Promise<DnsLab> {
  const ns = await createLoopbackNetns('dns');
  const dir = ns.dir;
  let nsd: NsdProcess | undefined;
  let unbound: ChildProcess | undefined;
  const close = async (): Promise<void> => {
    await Promise.all([nsd?.stop(), unbound === undefined ? undefined : stopChild(unbound, 3000)]);
    await ns.remove();
  };
  try {
    const served: { origin: string; file: string }[] = [];
    const anchors: string[] = [];
    for (const zone of zones) {
      const file = join(dir, `${zone.origin}.zone`);
      writeFileSync(file, nsdZoneText(zone.origin, zone.records));
      if (!zone.sign) {
        served.push({ origin: zone.origin, file });
        continue;
      }
      const ksk = (await run('ldns-keygen', ['-a', 'ED25519', '-k', zone.origin], { cwd: dir })).stdout.trim();
      const zsk = (await run('ldns-keygen', ['-a', 'ED25519', zone.origin], { cwd: dir })).stdout.trim();
      await run('ldns-signzone', [file, zsk, ksk], { cwd: dir });
      const signed = `${file}.signed`;
      if (zone.tamper !== undefined) writeFileSync(signed, zone.tamper(readFileSync(signed, 'utf8')));
      anchors.push(join(dir, `${ksk}.ds`));
      served.push({ origin: zone.origin, file: signed });
    }
    nsd = spawnNsd(dir, NSD_PORT, served, { wrapper: ns.wrapper });
    writeFileSync(join(dir, 'unbound.conf'), unboundConf(dir, served.map((s) => s.origin), anchors));
    const out = openSync(join(dir, 'unbound.stdout'), 'a');
    unbound = ns.spawn(['unbound', '-d', '-c', join(dir, 'unbound.conf')], { stdio: ['ignore', out, out] });
    closeSync(out);
    unbound.on('error', () => undefined);
    const lab: DnsLab = { dir, netns: ns.name, server: serverOf, query: (target, request) => queryIn(ns, target, request), close };
    const probe = zones[0]?.origin ?? 'example';
    for (const target of ['nsd', 'unbound'] as const) {
      const [ready] = await lab.query(target, { lookups: [{ srv: `probe.${probe}` }], waitUntilAnsweringMs: 15_000 });
      // SERVFAIL (bogus or not) is an answer: the server is up.
      if (ready === undefined || ('srv' in ready && ready.srv.kind === 'failure' && ready.srv.reason !== 'servfail' && ready.srv.reason !== 'bogus')) {
        throw new Error(`${target} did not start: ${JSON.stringify(ready)}\n${logs(dir)}`);
      }
    }
    return lab;
  } catch (err) {
    await close();
    throw err;
  }
}

function serverOf(target: 'nsd' | 'unbound'): { address: string; port: number } {
  return { address: '127.0.0.1', port: target === 'nsd' ? NSD_PORT : UNBOUND_PORT };
}

async function queryIn(ns: LoopbackNetns, target: 'nsd' | 'unbound', request: Omit<CliRequest, 'server'> & { readonly trustAd?: boolean }): Promise<CliResult[]> {
  const { trustAd, ...rest } = request;
  const server = { ...serverOf(target), ...(trustAd === undefined ? {} : { trustAd }) };
  const r = await ns.run([process.execPath, QUERY_CLI, JSON.stringify({ ...rest, server })]);
  if (r.status !== 0) throw new Error(`dns-query-cli exited ${String(r.status)}: ${r.stderr}`);
  return JSON.parse(r.stdout) as CliResult[];
}

function unboundConf(dir: string, origins: readonly string[], anchors: readonly string[]): string {
  return [
    'server:',
    '  interface: 127.0.0.1',
    `  port: ${UNBOUND_PORT}`,
    '  username: ""',
    '  chroot: ""',
    `  directory: "${dir}"`,
    `  pidfile: "${dir}/unbound.pid"`,
    '  use-syslog: no',
    `  logfile: "${dir}/unbound.log"`,
    '  verbosity: 1',
    '  val-log-level: 2',
    '  ede: yes', // Extended DNS Errors (RFC 8914): a bogus answer's SERVFAIL says so (unbound 1.16+)
    '  do-ip6: no',
    '  do-not-query-localhost: no', // the default refuses to query 127.0.0.0/8, where nsd is
    '  module-config: "validator iterator"',
    ...anchors.map((a) => `  trust-anchor-file: "${a}"`),
    'remote-control:',
    '  control-enable: no',
    ...origins.flatMap((o) => ['stub-zone:', `  name: "${o}."`, `  stub-addr: 127.0.0.1@${NSD_PORT}`]),
    '',
  ].join('\n');
}

function logs(dir: string): string {
  return ['nsd.log', 'nsd.stdout', 'unbound.log', 'unbound.stdout']
    .map((f) => {
      try {
        return `--- ${f}\n${readFileSync(join(dir, f), 'utf8').slice(-2000)}`;
      } catch {
        return `--- ${f}: (none)`;
      }
    })
    .join('\n');
}
