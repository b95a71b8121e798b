// The milter listener campaign: generated conversations (milter-cases.ts) sent over loopback to
// the real daemon, a few dozen connections at a time. Oracles: every connection is answered or
// closed within its bound (the idle timeout for stalled senders), whatever the daemon sends is a
// well-formed reply stream, an unmutated conversation gets exactly the verdicts it is owed, no
// uncaught error, no log line
// of an unclassified error, memory back near its baseline, connections all released, and a valid
// transaction still gets exactly EXPECTED_MODIFICATIONS, checked every few batches and at the end.
import { isDeepStrictEqual } from 'node:util';
import { FrameDecoder } from '../../src/milter/wire/frame-decoder.ts';
import { decodeFilterReply, isVerdict } from '../../src/milter/wire/mta-replies.ts';
import { listenPort } from './listen-port.ts';
import { milterCases } from './milter-cases.ts';
import { DOMAINS, EXPECTED_MODIFICATIONS, validTransaction, type FuzzDaemon } from './fuzz-daemon.ts';
import { deadlineOf, fail, memoryAfterGc, newReport, pool, round, sendAndWatch, settle, type Budget, type TargetReport } from './campaign.ts';

const BATCH = 256;
const IN_FLIGHT = 32;
/** Heap growth after GC allowed over the campaign (the SRV cache fills up to its 2000 entries). */
const HEAP_BOUND_MIB = 8;

/** Verdicts in a reply stream, or what is malformed about it (a partial last packet counts as malformed). */
function countVerdicts(bytes: Buffer): number | string {
  const frames = new FrameDecoder(1 << 20);
  try {
    const replies = frames.push(bytes).map((f) => decodeFilterReply(f.code, f.payload));
    if (frames.hasPartial) return 'it ends inside a packet';
    return replies.filter(isVerdict).length;
  } catch (err) {
    return String(err);
  }
}

async function checkValid(d: FuzzDaemon, report: TargetReport, when: string): Promise<void> {
  try {
    const mods = await validTransaction(d.listeners.milter);
    if (!isDeepStrictEqual(mods, EXPECTED_MODIFICATIONS)) fail(report, `${when}: valid transaction got ${JSON.stringify(mods)}`);
  } catch (err) {
    fail(report, `${when}: valid transaction failed: ${String(err)}`);
  }
}

export async function fuzzMilter(d: FuzzDaemon, budget: Budget): Promise<TargetReport> {
  const report = newReport('milter');
  const port = listenPort(d.listeners.milter);
  const started = Date.now();
  const deadline = deadlineOf(budget);
  const boundMs = d.idleTimeoutMs + 5000;
  const byMutation: Record<string, number> = {};
  const packetsByMutation: Record<string, number> = {};
  const ends: Record<string, number> = { closed: 0, reset: 0, hang: 0 };
  let validChecked = 0;
  await checkValid(d, report, 'before');
  const bugsBefore = d.log.bugCount;
  let baseline = await memoryAfterGc();
  for (let batch = 0; report.packets < budget.count && Date.now() < deadline; batch++) {
    const seed = (budget.seed + batch * 7919) >>> 0;
    const cases = milterCases(DOMAINS, seed, BATCH);
    await pool(cases, IN_FLIGHT, async (c, i) => {
      if (report.packets >= budget.count || Date.now() >= deadline) return;
      report.inputs++;
      report.packets += c.frames;
      report.bytes += c.bytes.length;
      byMutation[c.mutation] = (byMutation[c.mutation] ?? 0) + 1;
      packetsByMutation[c.mutation] = (packetsByMutation[c.mutation] ?? 0) + c.frames;
      const out = await sendAndWatch(port, c.bytes, c.delivery, boundMs);
      ends[out.end] = (ends[out.end] ?? 0) + 1;
      const where = `seed ${seed} case ${i} (${c.mutation}, ${c.delivery.kind})`;
      if (out.end === 'hang') {
        report.hangs++;
        fail(report, `hang: ${where}: ${c.bytes.subarray(0, 64).toString('hex')}`);
      }
      const verdicts = countVerdicts(out.reply);
      if (typeof verdicts === 'string') fail(report, `${where}: the daemon sent a malformed reply stream: ${verdicts}`);
      else if (c.verdicts !== undefined && c.delivery.kind !== 'disconnect' && ++validChecked > 0 && verdicts !== c.verdicts) {
        fail(report, `${where}: ${verdicts} verdicts for a valid conversation owed ${c.verdicts}: ${c.bytes.toString('hex').slice(0, 400)}`);
      }
    });
    // The DNS fixture records every query it answers; the daemon's memory is what is measured.
    d.dns.queries.length = 0;
    // The first batch warms JIT, pools and caches: the memory baseline is taken after it.
    if (batch === 0) baseline = await memoryAfterGc();
    if (batch % 16 === 15) await checkValid(d, report, `after batch ${batch}`);
  }
  report.seconds = round((Date.now() - started) / 1000);
  if (!(await settle(() => d.openConnections() === 0, boundMs))) fail(report, `${d.openConnections()} milter connections still open after the campaign`);
  await checkValid(d, report, 'after');
  const end = await memoryAfterGc();
  if (end.heapMiB - baseline.heapMiB > HEAP_BOUND_MIB) fail(report, `heap grew from ${baseline.heapMiB} to ${end.heapMiB} MiB`);
  const bugs = d.log.bugCount - bugsBefore;
  if (bugs > 0) fail(report, `${bugs} unclassified error log lines, e.g. ${JSON.stringify(d.log.bugs[0])}`);
  Object.assign(report.figures, {
    packetsPerSecond: Math.round(report.packets / Math.max(report.seconds, 0.001)),
    validConversationsChecked: validChecked,
    connectionsClosedByServer: ends['closed'] ?? 0,
    connectionsResetByFuzzer: ends['reset'] ?? 0,
    protocolErrorsLogged: d.log.byMsg.get('milter protocol error; closing connection') ?? 0,
    heapBaselineMiB: baseline.heapMiB,
    heapAfterMiB: end.heapMiB,
    rssBaselineMiB: baseline.rssMiB,
    rssAfterMiB: end.rssMiB,
    connectionsByMutation: JSON.stringify(byMutation),
    packetsByMutation: JSON.stringify(packetsByMutation),
  });
  return report;
}
