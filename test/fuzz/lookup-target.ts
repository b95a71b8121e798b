// The lookup faces campaign. Live: generated request streams (lookup-cases.ts) to the daemon's
// socketmap, Sendmail socket map, tcp_table and Exim readsocket listeners over loopback; each
// connection must be answered and closed within its bound, an unmutated stream must get one
// well-formed reply per request, and afterwards a routed key gets the same exact reply as before.
// In process, at a much higher rate: the same streams in random chunks through the pure decoders
// and request parsers (netstrings, lines, %XX, Exim requests), which must never throw and must
// give back every request of an unmutated stream.
import { isDeepStrictEqual } from 'node:util';
import type { LookupProtocol } from '../../src/lookup/index.ts';
import { NetstringDecoder, encodeNetstring } from '../../src/lookup/netstring.ts';
import { parseSocketmapRequest } from '../../src/lookup/socketmap-codec.ts';
import { LineDecoder, parseTcpTableRequest, percentDecode } from '../../src/lookup/tcp-table-codec.ts';
import { parseEximRequest } from '../../src/lookup/exim-codec.ts';
import { DOMAINS, ONION_PINNED, type FuzzDaemon } from './fuzz-daemon.ts';
import { chunked, lookupCases, type LookupCase } from './lookup-cases.ts';
import { listenPort } from './listen-port.ts';
import { Prng } from './prng.ts';
import { deadlineOf, fail, memoryAfterGc, newReport, pool, round, sendAndWatch, type Budget, type TargetReport } from './campaign.ts';

const BATCH = 256;
const IN_FLIGHT = 32;
const HEAP_BOUND_MIB = 8;
const BOUND_MS = 5000;

/** A well-formed request for the pinned domain, per face, and the reply it must get. */
const PROBES: Readonly<Record<LookupProtocol, { readonly request: Buffer; readonly reply: Buffer }>> = {
  socketmap: { request: encodeNetstring(`onionmx ${DOMAINS.pinned}`), reply: encodeNetstring(`OK smtptor:[${ONION_PINNED}]:25`) },
  sendmail: { request: encodeNetstring(`mailertable ${DOMAINS.pinned}`), reply: encodeNetstring(`OK smtptor:[${ONION_PINNED}]`) },
  'tcp-table': { request: Buffer.from(`get ${DOMAINS.pinned}\n`), reply: Buffer.from(`200 smtptor:[${ONION_PINNED}]:25\n`) },
  exim: { request: Buffer.from(`route ${DOMAINS.pinned}\n`), reply: Buffer.from(`${ONION_PINNED}::25`) },
};

function portsOf(d: FuzzDaemon): Record<LookupProtocol, number> {
  const l = d.listeners.lookup;
  return { socketmap: listenPort(l.socketmap), sendmail: listenPort(l.sendmail), 'tcp-table': listenPort(l['tcp-table']), exim: listenPort(l.exim) };
}

/** Replies in `reply` (netstrings or lines), or a description of what is wrong with it. */
function countReplies(protocol: LookupProtocol, reply: Buffer): number | string {
  if (protocol === 'exim') return 1;
  if (protocol === 'tcp-table') {
    const lines = reply.toString('latin1').split('\n');
    if (lines.pop() !== '') return 'a reply line without its newline';
    const bad = lines.find((l) => !/^(200|400|500) /.test(l));
    return bad === undefined ? lines.length : `bad reply line ${JSON.stringify(bad.slice(0, 80))}`;
  }
  const r = new NetstringDecoder(100_000).push(reply);
  if (!r.ok) return r.reason;
  const bad = r.frames.find((f) => !/^(OK|NOTFOUND|TEMP|TIMEOUT|PERM)( |$)/.test(f.toString('utf8')));
  return bad === undefined ? r.frames.length : `bad reply ${JSON.stringify(bad.toString('utf8').slice(0, 80))}`;
}

async function probeAll(ports: Record<LookupProtocol, number>, report: TargetReport, when: string): Promise<void> {
  for (const [protocol, probe] of Object.entries(PROBES) as [LookupProtocol, (typeof PROBES)[LookupProtocol]][]) {
    const out = await sendAndWatch(ports[protocol], probe.request, { kind: 'whole' }, BOUND_MS);
    if (!isDeepStrictEqual(out.reply, probe.reply)) fail(report, `${when}: ${protocol} answered ${JSON.stringify(out.reply.toString('latin1'))}, want ${JSON.stringify(probe.reply.toString('latin1'))}`);
  }
}

/** The pure decoders over one case in random chunks: the requests they saw, or throws. */
export function decodeInProcess(c: LookupCase, rng: Prng): number {
  let requests = 0;
  switch (c.protocol) {
    case 'socketmap':
    case 'sendmail': {
      const decoder = new NetstringDecoder(10_000);
      for (const chunk of chunked(c.bytes, rng)) {
        const r = decoder.push(chunk);
        for (const f of r.frames) parseSocketmapRequest(f);
        requests += r.frames.length;
        if (!r.ok) break;
      }
      return requests;
    }
    case 'tcp-table': {
      const decoder = new LineDecoder(4096);
      for (const chunk of chunked(c.bytes, rng)) {
        const r = decoder.push(chunk);
        for (const l of r.lines) {
          parseTcpTableRequest(l.at(-1) === 0x0d ? l.subarray(0, -1) : l);
          percentDecode(l.toString('latin1'));
        }
        requests += r.lines.length;
        if (!r.ok) break;
      }
      return requests;
    }
    case 'exim':
      parseEximRequest(c.bytes);
      return 1;
  }
}

export async function fuzzLookup(d: FuzzDaemon, budget: Budget): Promise<TargetReport> {
  const report = newReport('lookup');
  const ports = portsOf(d);
  const started = Date.now();
  const deadline = deadlineOf(budget);
  // Sockets get a twentieth of the inputs and half the time; the pure decoders the rest.
  const liveCount = Math.ceil(budget.count / 20);
  const liveDeadline = started + (deadline - started) / 2;
  await probeAll(ports, report, 'before');
  const bugsBefore = d.log.bugCount;
  let baseline = await memoryAfterGc();
  let live = 0;
  for (let batch = 0; live < liveCount && Date.now() < liveDeadline; batch++) {
    const seed = (budget.seed + batch * 104729) >>> 0;
    await pool(lookupCases(DOMAINS, seed, BATCH), IN_FLIGHT, async (c, i) => {
      if (live >= liveCount || Date.now() >= liveDeadline) return;
      live++;
      report.inputs++;
      report.packets += c.requests;
      report.bytes += c.bytes.length;
      const out = await sendAndWatch(ports[c.protocol], c.bytes, c.delivery, BOUND_MS);
      const where = `seed ${seed} case ${i} (${c.protocol}, ${c.delivery.kind})`;
      if (out.end === 'hang') {
        report.hangs++;
        fail(report, `hang: ${where}: ${JSON.stringify(c.bytes.subarray(0, 80).toString('latin1'))}`);
      } else if (c.valid) {
        const n = countReplies(c.protocol, out.reply);
        const want = c.protocol === 'exim' ? 1 : c.requests;
        if (n !== want) fail(report, `${where}: ${c.requests} requests, replies: ${String(n)}: ${JSON.stringify(c.bytes.subarray(0, 80).toString('latin1'))}`);
      }
    });
    d.dns.queries.length = 0; // the fixture's own record of queries, not the daemon's memory
    if (batch === 0) baseline = await memoryAfterGc();
  }
  report.figures['liveConnections'] = live;
  const rng = new Prng(budget.seed);
  let pure = 0;
  for (let batch = 0; report.inputs < budget.count && Date.now() < deadline; batch++) {
    const seed = (budget.seed + 1 + batch * 15485863) >>> 0;
    for (const [i, c] of lookupCases(DOMAINS, seed, BATCH).entries()) {
      pure++;
      report.inputs++;
      report.bytes += c.bytes.length;
      try {
        const seen = decodeInProcess(c, rng);
        report.packets += seen;
        if (c.valid && seen !== (c.protocol === 'exim' ? 1 : c.requests)) fail(report, `in process: seed ${seed} case ${i} (${c.protocol}): ${c.requests} requests, decoded ${seen}`);
      } catch (err) {
        report.crashes++;
        fail(report, `in process: seed ${seed} case ${i} (${c.protocol}) threw ${String(err)}: ${c.bytes.toString('hex').slice(0, 160)}`);
      }
    }
  }
  report.figures['inProcessInputs'] = pure;
  report.seconds = round((Date.now() - started) / 1000);
  await probeAll(ports, report, 'after');
  const end = await memoryAfterGc();
  if (end.heapMiB - baseline.heapMiB > HEAP_BOUND_MIB) fail(report, `heap grew from ${baseline.heapMiB} to ${end.heapMiB} MiB`);
  const bugs = d.log.bugCount - bugsBefore;
  if (bugs > 0) fail(report, `${bugs} unclassified error log lines, e.g. ${JSON.stringify(d.log.bugs[0])}`);
  Object.assign(report.figures, {
    inputsPerSecond: Math.round(report.inputs / Math.max(report.seconds, 0.001)),
    heapBaselineMiB: baseline.heapMiB,
    heapAfterMiB: end.heapMiB,
    rssAfterMiB: end.rssMiB,
  });
  return report;
}
