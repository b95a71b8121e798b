// `verify`: does the world see what the operator published? Looks up the domain's `_onion-mx._tcp`
// records, and reports DNSSEC status, every target's validity, whether the expected onion is among
// them, conflicts with the static maps, and whether each published onion answers with an SMTP
// greeting through Tor. Pure apart from the injected lookups; never throws.
import type { OnionSrvResult } from '../resolve/srv.ts';
import type { StaticMap } from '../resolve/maps/index.ts';
import type { ProbeResult } from '../tor/probe.ts';

export type CheckName = 'srv' | 'dnssec' | 'targets' | 'expected-onion' | 'operator-maps' | 'bundled-map' | 'greeting';
export type CheckStatus = 'ok' | 'fail' | 'warn' | 'skipped';

export interface VerifyCheck {
  readonly name: CheckName;
  readonly status: CheckStatus;
  readonly detail: string;
}

export interface PublishedRecord {
  readonly priority: number;
  readonly weight: number;
  readonly port: number;
  readonly target: string;
  /** The reason the target is unusable, or undefined for a valid v3 onion. */
  readonly problem: string | undefined;
}

export interface VerifyReport {
  readonly domain: string;
  readonly expectedOnion: string | undefined;
  readonly records: readonly PublishedRecord[];
  readonly authenticated: boolean | undefined;
  readonly checks: readonly VerifyCheck[];
  /** Every check ok (warnings and skipped checks allowed). */
  readonly ok: boolean;
  /** Not ok only because a lookup failed temporarily (a DNSSEC-bogus answer is not temporary: it fails). */
  readonly temporary: boolean;
}

export interface VerifyInput {
  /** Normalised mail domain. */
  readonly domain: string;
  /** Validated v3 onion the operator expects, if known. */
  readonly expectedOnion?: string;
  readonly allowUnsigned: boolean;
  readonly lookup: (domain: string) => Promise<OnionSrvResult>;
  readonly operatorMaps?: StaticMap;
  readonly bundledMap?: StaticMap;
  /** Undefined: no probe (reported as not checked, with this reason). */
  readonly probe?: (onion: string, port: number) => Promise<ProbeResult>;
  readonly noProbeReason?: string;
  /** Describes the SOCKS endpoint in messages. */
  readonly socksLabel?: string;
}

export async function verifyDomain(input: VerifyInput): Promise<VerifyReport> {
  const checks: VerifyCheck[] = [];
  const add = (name: CheckName, status: CheckStatus, detail: string): void => {
    checks.push({ name, status, detail });
  };
  const r = await input.lookup(input.domain);
  const owner = `_onion-mx._tcp.${input.domain}`;
  let records: PublishedRecord[] = [];
  let authenticated: boolean | undefined;
  let published: readonly { onion: string; port: number }[] = [];
  /** The resolver's account of a DNSSEC-bogus answer (Extended DNS Error), if that is what the lookup got. */
  let bogus: string | undefined;
  switch (r.kind) {
    case 'targets':
    case 'no-onion-target': {
      authenticated = r.authenticated;
      records = r.records.map((rec) => ({ ...rec, problem: r.rejected.find((x) => x.target === rec.target && x.port === rec.port)?.reason }));
      published = r.kind === 'targets' ? r.targets : [];
      add('srv', 'ok', `${owner}: ${records.length} record(s)`);
      break;
    }
    case 'no-service':
      authenticated = r.authenticated;
      add('srv', 'fail', `${owner} is "." : the record says this domain has no onion service; publish the onion as target instead`);
      break;
    case 'nxdomain':
    case 'nodata':
      add('srv', 'fail', `${owner}: no SRV record published (${r.kind === 'nxdomain' ? 'NXDOMAIN' : 'the name exists but has no SRV data'}); publish the line from \`onionmx-milter srv-record\``);
      break;
    case 'failure':
      if (r.reason === 'bogus') {
        bogus = r.detail;
        add('srv', 'fail', `${owner}: no usable answer: the validating resolver found it DNSSEC-bogus (see the dnssec check)`);
      } else if (r.reason === 'servfail') {
        // Without Extended DNS Errors a validating resolver's SERVFAIL for bogus data looks like any other.
        add('srv', 'fail', `${owner}: lookup failed (${r.reason}: ${r.detail}); check the resolver, then try again (a validating resolver also answers SERVFAIL for DNSSEC-bogus data; with Extended DNS Errors, e.g. unbound's \`ede: yes\`, verify tells the two apart)`);
      } else add('srv', 'fail', `${owner}: lookup failed (${r.reason}: ${r.detail}); check the resolver, then try again`);
      break;
  }
  // Bogus is no unsigned answer, so --allow-unsigned does not excuse it; nor is it temporary: broken
  // or forged signatures stay broken until the zone (its signatures, or its DS at the parent) is fixed.
  if (bogus !== undefined) add('dnssec', 'fail', `DNSSEC validation failed (bogus): ${bogus}; re-sign the zone (expired or not yet valid signatures), check that the DS record at the parent matches a DNSKEY, and that nothing changes the records after signing`);
  else if (authenticated === true) add('dnssec', 'ok', 'the answer is DNSSEC-authenticated (AD from a trusted validating resolver)');
  else if (authenticated === false) {
    const why = 'the answer is not DNSSEC-authenticated: senders that require DNSSEC (the onionmx-milter default) will not use it; sign the zone, or check that the resolver validates and is trusted (loopback or trust_ad)';
    add('dnssec', input.allowUnsigned ? 'warn' : 'fail', input.allowUnsigned ? `${why} (allowed by --allow-unsigned)` : why);
  } else add('dnssec', 'skipped', 'no answer to judge');

  if (records.length > 0) {
    const bad = records.filter((rec) => rec.problem !== undefined);
    if (bad.length === 0) add('targets', 'ok', `every target is a valid v3 onion: ${published.map((t) => `${t.onion}:${t.port}`).join(', ')}`);
    else add('targets', 'fail', bad.map((rec) => `target '${rec.target}' port ${rec.port}: ${rec.problem ?? ''}`).join('; '));
  } else add('targets', 'skipped', 'no records');

  if (input.expectedOnion === undefined) add('expected-onion', 'skipped', 'no --onion or --hs-dir given');
  else if (published.some((t) => t.onion === input.expectedOnion)) add('expected-onion', 'ok', `${input.expectedOnion} is published`);
  else {
    const names = published.length > 0 ? `the record names ${published.map((t) => t.onion).join(', ')}` : 'no usable onion is published';
    add('expected-onion', 'fail', `${input.expectedOnion} is not published: ${names}`);
  }

  const reference = input.expectedOnion ?? (published.length > 0 ? undefined : null);
  checkMap('operator-maps', 'your maps', input.operatorMaps, input.domain, published, reference, add);
  checkMap('bundled-map', 'the bundled OnionMX map', input.bundledMap, input.domain, published, reference, add);
  await checkGreetings(input, published, add);

  const failed = checks.filter((c) => c.status === 'fail');
  // A failed lookup proves nothing either way: the caller should try again. A bogus answer does prove something.
  const temporary = r.kind === 'failure' && r.reason !== 'bogus';
  return { domain: input.domain, expectedOnion: input.expectedOnion, records, authenticated, checks, ok: failed.length === 0, temporary };
}

/** `reference`: the onion the map should name (expected), undefined = any published one, null = none known. */
function checkMap(
  name: CheckName,
  label: string,
  map: StaticMap | undefined,
  domain: string,
  published: readonly { onion: string }[],
  reference: string | undefined | null,
  add: (name: CheckName, status: CheckStatus, detail: string) => void,
): void {
  if (map === undefined) {
    add(name, 'skipped', `${label}: not configured`);
    return;
  }
  const hit = map.lookup(domain);
  if (hit.kind === 'none') {
    add(name, 'ok', `${label}: ${domain} is not listed`);
    return;
  }
  if (hit.kind === 'conflict') {
    add(name, 'fail', `${label}: ${hit.matched} is listed with different onions at ${hit.places.join(', ')}; mail for it is deferred`);
    return;
  }
  const agrees = reference === undefined ? published.some((t) => t.onion === hit.onion) : hit.onion === reference;
  if (agrees) add(name, 'ok', `${label}: ${hit.matched} -> ${hit.onion} (${hit.origin}) agrees`);
  else {
    const want = reference ?? (published.length > 0 ? published.map((t) => t.onion).join(', ') : 'no published onion');
    add(name, 'fail', `${label}: ${hit.matched} -> ${hit.onion} (${hit.origin}) conflicts with ${typeof reference === 'string' ? 'the expected onion' : 'the SRV record'} (${want}); senders using that map deliver there`);
  }
}

async function checkGreetings(input: VerifyInput, published: readonly { onion: string; port: number }[], add: (name: CheckName, status: CheckStatus, detail: string) => void): Promise<void> {
  if (published.length === 0) {
    add('greeting', 'skipped', 'no published onion to probe');
    return;
  }
  const probe = input.probe;
  if (probe === undefined) {
    add('greeting', 'skipped', `not checked: ${input.noProbeReason ?? 'no probe available'}`);
    return;
  }
  const results = await Promise.all(published.map((t) => probe(t.onion, t.port)));
  for (const res of results) {
    const target = `${res.onion}:${res.port}`;
    if (res.ok) add('greeting', 'ok', `${target} answers: ${res.greeting}`);
    else if (res.stage === 'connect' && res.kind === 'proxy-unreachable') add('greeting', 'skipped', `not checked: the Tor SOCKS port ${input.socksLabel ?? ''} does not answer (${res.message})`);
    else add('greeting', 'fail', `${target} does not answer with an SMTP greeting at ${res.stage}: ${res.message}${res.permanent ? '' : ' (may be temporary: a new onion service takes a minute to publish its descriptor)'}`);
  }
}
