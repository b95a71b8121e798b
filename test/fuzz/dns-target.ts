// The DNS reply campaign: hostile replies (dns-cases.ts) through the stub resolver and the SRV
// interpretation, in process at a high rate (an injected stream transport hands each query's
// replies straight to the matcher) and over real UDP and TCP from a loopback server (a TC bit
// forces the TCP retry, whose frames may lie about their length). Oracles: nothing throws, every
// lookup ends within its deadline, a spoofed message never decides anything (its hijacking onion
// never comes out), every onion that does come out is one the genuine reply named, with a port
// other than 0; and the TCP framer only ever fails with a protocol error.
import { decode } from 'dns-packet';
import { ProtocolError } from '../../src/errors.ts';
import { createStubResolver, type StreamExchange, type StubResolver } from '../../src/resolve/dns/stub-resolver.ts';
import { DnsTcpFramer, frameTcpMessage } from '../../src/resolve/dns/tcp-framer.ts';
import { lookupOnionSrv, type OnionSrvResult } from '../../src/resolve/srv.ts';
import { startDnsServer, type FixtureReply } from '../helpers/dns-server.ts';
import { chunked } from './lookup-cases.ts';
import { dnsReplyCase, genuineReply, GENUINE_ONIONS, HIJACK_ONION, type DnsReplyCase, type Query } from './dns-cases.ts';
import { mutateBytes } from './mutate.ts';
import { Prng } from './prng.ts';
import { deadlineOf, fail, memoryAfterGc, newReport, pool, round, type Budget, type TargetReport } from './campaign.ts';

const KINDS = new Set(['targets', 'no-service', 'no-onion-target', 'nxdomain', 'nodata', 'failure']);
const GENUINE = new Set<string>(GENUINE_ONIONS);
const HEAP_BOUND_MIB = 8;

function queryOf(payload: Buffer): Query {
  const p = decode(payload);
  const q = p.questions?.[0];
  if (q === undefined) throw new Error('the stub resolver sent a query without a question');
  return { id: p.id ?? 0, name: q.name, type: q.type };
}

/** What is wrong with a result, or undefined. */
function judge(r: OnionSrvResult): string | undefined {
  if (!KINDS.has(r.kind)) return `unknown result kind ${r.kind}`;
  if (r.kind !== 'targets') return undefined;
  for (const t of r.targets) {
    if (t.onion === HIJACK_ONION) return 'a spoofed reply decided the route';
    if (!GENUINE.has(t.onion)) return `target ${t.onion} was never in a genuine reply`;
    if (t.port === 0) return 'a target with port 0';
  }
  return undefined;
}

/** A resolver whose "network" is the current case: the query's replies, delivered in order. */
function inProcessResolver(next: (q: Query) => DnsReplyCase): { resolver: StubResolver; messages: () => number } {
  let sent = 0;
  const exchange: StreamExchange = (server, payload, onMessage) => {
    const c = next(queryOf(payload));
    for (const m of c.messages) {
      sent++;
      const value = onMessage(m, server);
      if (value !== undefined) return Promise.resolve({ ok: true, value });
    }
    return Promise.resolve({ ok: false, reason: 'aborted', detail: 'no acceptable reply' });
  };
  const resolver = createStubResolver({ servers: [{ address: '127.0.0.1', port: 53 }], attempts: 1, attemptTimeoutMs: 1000, deadlineMs: 2000, streamExchange: exchange });
  return { resolver, messages: () => sent };
}

function framerCase(rng: Prng, messages: readonly Buffer[]): { bytes: Buffer; valid: boolean } {
  const framed = Buffer.concat(messages.map((m) => frameTcpMessage(m)));
  if (rng.chance(0.4)) return { bytes: framed, valid: true };
  const out = Buffer.from(framed);
  if (rng.chance(0.5) && out.length >= 2) out.writeUInt16BE(rng.pick([0, 1, 0xffff, 0x8000]), 0);
  return { bytes: rng.chance(0.5) ? out : mutateBytes(out, rng), valid: false };
}

function fuzzFramer(rng: Prng, messages: readonly Buffer[], report: TargetReport, where: string): void {
  const c = framerCase(rng, messages);
  const framer = new DnsTcpFramer(rng.chance(0.5) ? 0xffff : 512);
  const got: Buffer[] = [];
  try {
    for (const chunk of chunked(c.bytes, rng)) got.push(...framer.push(chunk));
  } catch (err) {
    if (!(err instanceof ProtocolError)) fail(report, `${where}: the TCP framer threw ${String(err)}`);
    return;
  }
  if (c.valid && got.length !== messages.length && messages.every((m) => m.length <= 512)) fail(report, `${where}: framer gave ${got.length} of ${messages.length} messages`);
}

async function inProcess(budget: Budget, report: TargetReport, deadline: number): Promise<number> {
  const rng = new Prng(budget.seed);
  let current: DnsReplyCase | undefined;
  // The first answer is clean: the resolver learns that this server echoes the 0x20 case, as
  // it would from the first real reply, so a spoof that only got the case wrong is refused.
  let warm = false;
  const { resolver, messages } = inProcessResolver((q) => (current = warm ? dnsReplyCase(q, rng) : genuineReply(q)));
  const first = await lookupOnionSrv('warm.example', { resolver });
  if (first.kind !== 'targets') fail(report, `in process: the warm-up lookup got ${first.kind}`);
  warm = true;
  let inputs = 0;
  for (; inputs < budget.count && Date.now() < deadline; inputs++) {
    const domain = `d${inputs % 5000}.example`;
    let r: OnionSrvResult;
    try {
      r = await lookupOnionSrv(domain, { resolver });
    } catch (err) {
      report.crashes++;
      fail(report, `in process: seed ${budget.seed} input ${inputs}: lookupOnionSrv threw ${String(err)}`);
      continue;
    }
    const wrong = judge(r);
    if (wrong !== undefined) fail(report, `in process: seed ${budget.seed} input ${inputs} (${current?.mutation}, ${current?.spoofs} spoofs): ${wrong}: ${current?.messages.map((m) => m.toString('hex')).join(' ')}`);
    if (current !== undefined) {
      for (const m of current.messages) report.bytes += m.length;
      if (inputs % 4 === 0) fuzzFramer(rng, current.messages, report, `framer: seed ${budget.seed} input ${inputs}`);
    }
  }
  report.packets += messages();
  return inputs;
}

async function live(budget: Budget, report: TargetReport, deadline: number, count: number): Promise<number> {
  const rng = new Prng(budget.seed ^ 0x5eed);
  const server = await startDnsServer();
  const deadlineMs = 600;
  const resolver = createStubResolver({ servers: [{ address: server.address, port: server.port }], attempts: 1, attemptTimeoutMs: 300, deadlineMs });
  // A first, clean exchange (REFUSED, question echoed): the resolver learns the server echoes 0x20.
  await resolver.query('warm.example', 'SRV');
  let sent = 0;
  server.setBehaviour((q) => {
    const c = dnsReplyCase({ id: q.id, name: q.name, type: q.type }, rng);
    sent += c.messages.length;
    const replies: FixtureReply[] = c.messages.map((bytes) => ({ kind: 'garbage', bytes }));
    if (q.transport === 'udp' && rng.chance(0.2)) return [{ kind: 'truncated' }];
    if (q.transport === 'tcp' && rng.chance(0.3)) {
      const lie = rng.pick([0, 0xffff, 1]);
      return replies.map((r) => ({ ...r, tcpBytes: (framed: Buffer) => (lie === 1 ? framed.subarray(0, rng.below(framed.length)) : Buffer.concat([Buffer.from([lie >> 8, lie & 0xff]), framed.subarray(2)])) }));
    }
    return replies;
  });
  let inputs = 0;
  try {
    const domains = Array.from({ length: count }, (_, i) => `live${i}.example`);
    await pool(domains, 32, async (domain, i) => {
      if (Date.now() >= deadline) return;
      inputs++;
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<'hang'>((resolve) => { timer = setTimeout(() => { resolve('hang'); }, deadlineMs + 5000); });
      try {
        const r = await Promise.race([lookupOnionSrv(domain, { resolver }), bound]);
        if (r === 'hang') {
          report.hangs++;
          fail(report, `live: seed ${budget.seed} input ${i}: no result within the deadline`);
        } else {
          const wrong = judge(r);
          if (wrong !== undefined) fail(report, `live: seed ${budget.seed} input ${i}: ${wrong}`);
        }
      } catch (err) {
        report.crashes++;
        fail(report, `live: seed ${budget.seed} input ${i}: threw ${String(err)}`);
      } finally {
        clearTimeout(timer);
      }
    });
  } finally {
    await server.close();
  }
  report.packets += sent;
  report.figures['liveUdpQueries'] = server.counts.udp;
  report.figures['liveTcpQueries'] = server.counts.tcp;
  return inputs;
}

export async function fuzzDns(budget: Budget): Promise<TargetReport> {
  const report = newReport('dns');
  const started = Date.now();
  const deadline = deadlineOf(budget);
  const baseline = await memoryAfterGc();
  const liveInputs = await live(budget, report, started + (deadline - started) / 4, Math.min(2000, Math.ceil(budget.count / 50)));
  const pureInputs = await inProcess(budget, report, deadline);
  report.inputs = liveInputs + pureInputs;
  report.seconds = round((Date.now() - started) / 1000);
  const end = await memoryAfterGc();
  if (end.heapMiB - baseline.heapMiB > HEAP_BOUND_MIB) fail(report, `heap grew from ${baseline.heapMiB} to ${end.heapMiB} MiB`);
  Object.assign(report.figures, {
    liveLookups: liveInputs,
    inProcessLookups: pureInputs,
    messagesPerSecond: Math.round(report.packets / Math.max(report.seconds, 0.001)),
    heapBaselineMiB: baseline.heapMiB,
    heapAfterMiB: end.heapMiB,
  });
  return report;
}
