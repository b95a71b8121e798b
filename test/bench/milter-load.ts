// The MTA side of the milter benchmark: N connections through our client, each running Postfix-like
// transactions back to back, one command at a time as Postfix does (it waits for every reply).
// Per connection: negotiate, CONNECT, HELO; per transaction: MAIL, 3 x RCPT, DATA, 10 headers,
// end of headers, one 4 KiB body chunk, end of message (expects the added header and continue),
// ABORT. Macros ride along as Postfix sends them with its default milter_*_macros. A Scenario says
// which recipients are sent and what the filter must answer (the routing filter defers one).
import { MilterClient, type EventResult } from '../../src/milter/client.ts';
import { Proto } from '../../src/milter/wire/constants.ts';
import { LatencyRecorder } from './measure.ts';
import { ADDED_HEADER } from './milter-bench-filter.ts';

/** What the MTA side sends and expects in one transaction. */
export interface Scenario {
  readonly recipients: readonly string[];
  /** Per recipient: continue, or the SMTP code of the filter's custom reply. */
  readonly rcptReplies: readonly ('continue' | number)[];
  /** The one header end of message must add. */
  readonly header: { readonly name: string; readonly value: string };
}

/** The plain filters' transaction: every recipient accepted, the bench header added. */
export const PLAIN_SCENARIO: Scenario = {
  recipients: ['alice@example.net', 'bob@example.net', 'carol@example.net'],
  rcptReplies: ['continue', 'continue', 'continue'],
  header: ADDED_HEADER,
};

export interface LoadOptions {
  /** Where the filter listens, e.g. `unix:/path` or `inet:127.0.0.1:port`. */
  readonly spec: string;
  readonly connections: number;
  readonly scenario: Scenario;
  /** Transactions finished before this much time has passed are not counted. */
  readonly warmupMs: number;
  readonly measureMs: number;
  /** Called when the measured window opens (after the connections are set up and warmed). */
  readonly onMeasureStart?: () => void;
}

export interface LoadResult {
  /** Transactions that finished inside the measured window. */
  readonly completed: number;
  readonly measuredMs: number;
  /** Their latencies in ms, ascending. */
  readonly latencies: Float64Array;
  /**
   * The longest transaction that finished after the window opened, including those still running
   * when it closed: a connection starved for the whole window shows here, not in the percentiles.
   */
  readonly maxLatencyMs: number;
  /** CPU the client (this process) used during the window, in percent of one core. */
  readonly clientCpuPercent: number;
}

const HEADERS: readonly (readonly [string, string])[] = [
  ['Received', 'from mail.example.org (mail.example.org [192.0.2.10])\n\tby mx.example.net (Postfix) with ESMTPS id 4Xyz1234AbC\n\tfor <alice@example.net>; Tue, 24 Nov 2026 10:00:00 +0000 (UTC)'],
  ['From', 'Sender Name <sender@example.org>'],
  ['To', 'Alice <alice@example.net>, Bob <bob@example.net>'],
  ['Cc', 'Carol <carol@example.net>'],
  ['Subject', 'Quarterly report for the onion relay operators'],
  ['Date', 'Tue, 24 Nov 2026 10:00:00 +0000'],
  ['Message-ID', '<20261124100000.4Xyz1234AbC@mail.example.org>'],
  ['MIME-Version', '1.0'],
  ['Content-Type', 'text/plain; charset=utf-8'],
  ['Content-Transfer-Encoding', '8bit'],
];

function bodyOf(bytes: number): Buffer {
  const line = 'The quick brown fox jumps over the lazy dog, then routes mail through an onion.\r\n';
  return Buffer.from(line.repeat(Math.ceil(bytes / line.length)).slice(0, bytes - 2) + '\r\n');
}
const BODY = bodyOf(4096);

const now = (): number => Number(process.hrtime.bigint()) / 1e6;

function expectContinue(what: string, r: EventResult): void {
  // notSent: the filter negotiated the event away (SMFIP_NO*); noReply: it asked for no reply (SMFIP_NR_*).
  if (r.kind !== 'continue' && r.kind !== 'notSent' && r.kind !== 'noReply') throw new Error(`${what}: expected continue, got ${r.kind}`);
}

function expectRcptReply(rcpt: string, want: 'continue' | number, r: EventResult): void {
  if (want === 'continue') {
    expectContinue(`rcpt ${rcpt}`, r);
    return;
  }
  if (r.kind !== 'replyCode' || !r.text.startsWith(`${want} `)) throw new Error(`rcpt ${rcpt}: expected a ${want} reply, got ${JSON.stringify(r)}`);
}

/** Connects, negotiates and runs CONNECT and HELO as Postfix would. */
export async function openConnection(spec: string, index: number): Promise<MilterClient> {
  const client = await MilterClient.connect(spec);
  try {
    await client.negotiate();
    client.macro('C', { j: 'mx.example.net', '{daemon_name}': 'smtpd', '{daemon_addr}': '127.0.0.1', v: 'Postfix 3.7.11', _: 'mail.example.org [192.0.2.10]' });
    expectContinue('connect', await client.connect('mail.example.org', 'inet', 40_000 + (index % 20_000), '192.0.2.10'));
    expectContinue('helo', await client.helo('mail.example.org'));
    return client;
  } catch (err) {
    client.destroy();
    throw err;
  }
}

/** One transaction; throws unless every reply is the scenario's and EOM adds exactly its header. */
export async function transaction(client: MilterClient, queueId: string, scenario: Scenario = PLAIN_SCENARIO): Promise<void> {
  client.macro('M', { i: queueId, '{mail_addr}': 'sender@example.org', '{mail_host}': 'mail.example.org', '{mail_mailer}': 'smtp' });
  expectContinue('mail', await client.mailFrom('<sender@example.org>', ['SIZE=5120', 'BODY=8BITMIME']));
  for (const [i, rcpt] of scenario.recipients.entries()) {
    client.macro('R', { i: queueId, '{rcpt_addr}': rcpt, '{rcpt_host}': 'mx.example.net', '{rcpt_mailer}': 'smtp' });
    expectRcptReply(rcpt, scenario.rcptReplies[i] ?? 'continue', await client.rcptTo(`<${rcpt}>`));
  }
  client.macro('T', { i: queueId });
  expectContinue('data', await client.data());
  for (const [name, value] of HEADERS) expectContinue('header', await client.header(name, value));
  client.macro('N', { i: queueId });
  expectContinue('eoh', await client.endOfHeaders());
  expectContinue('body', await client.body(BODY));
  client.macro('E', { i: queueId });
  const eom = await client.endOfMessage();
  const added = eom.modifications[0];
  const want = scenario.header;
  if (eom.reply.kind !== 'continue' || eom.modifications.length !== 1 || added?.kind !== 'addHeader' || added.name !== want.name || added.value !== want.value) {
    throw new Error(`end of message: expected only "${want.name}: ${want.value}" and continue, got ${JSON.stringify(eom)}`);
  }
  client.abort();
}

const EVENTS = [
  ['connect', Proto.noConnect, Proto.noReplyConnect],
  ['helo', Proto.noHelo, Proto.noReplyHelo],
  ['mail', Proto.noMail, Proto.noReplyMail],
  ['rcpt', Proto.noRcpt, Proto.noReplyRcpt],
  ['data', Proto.noData, Proto.noReplyData],
  ['header', Proto.noHeaders, Proto.noReplyHeader],
  ['eoh', Proto.noEndOfHeaders, Proto.noReplyEndOfHeaders],
  ['body', Proto.noBody, Proto.noReplyBody],
  ['unknown', Proto.noUnknown, Proto.noReplyUnknown],
] as const;

/** Each event the MTA will send, and whether it waits for a reply: what the filter costs per message. */
function eventsOnTheWire(protocol: number): string[] {
  return EVENTS.filter(([, no]) => (protocol & no) === 0).map(([name, , noReply]) => ((protocol & noReply) === 0 ? name : `${name} (no reply)`));
}

/** What a filter negotiates with a v6 MTA offering everything: event names, `(no reply)` marked. */
export async function negotiatedEvents(spec: string): Promise<string[]> {
  const client = await MilterClient.connect(spec);
  try {
    return eventsOnTheWire((await client.negotiate()).protocol);
  } finally {
    await client.quit();
  }
}

/** Runs the load; rejects with the first failure (a filter that misbehaves makes its cell fail). */
export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const clients = await Promise.all(Array.from({ length: o.connections }, (_, i) => openConnection(o.spec, i)));
  const latencies = new LatencyRecorder();
  const start = now();
  const measureFrom = start + o.warmupMs;
  const measureUntil = measureFrom + o.measureMs;
  let stop = false;
  let maxLatencyMs = 0;
  let cpuAtStart = process.cpuUsage();
  let cpuUsed: NodeJS.CpuUsage | undefined;
  const windowTimer = setTimeout(() => {
    cpuAtStart = process.cpuUsage();
    o.onMeasureStart?.();
  }, o.warmupMs);
  const closeTimer = setTimeout(() => {
    cpuUsed = process.cpuUsage(cpuAtStart);
  }, o.warmupMs + o.measureMs);
  const loop = async (client: MilterClient, index: number): Promise<void> => {
    for (let seq = 0; !stop; seq++) {
      const began = now();
      if (began >= measureUntil) return;
      await transaction(client, `${index.toString(36)}Q${seq.toString(36)}`, o.scenario);
      const ended = now();
      if (ended >= measureFrom && ended < measureUntil) latencies.add(ended - began);
      if (ended >= measureFrom) maxLatencyMs = Math.max(maxLatencyMs, ended - began);
    }
  };
  const outcomes = await Promise.allSettled(
    clients.map((c, i) =>
      loop(c, i).catch((err: unknown) => {
        stop = true;
        throw err;
      }),
    ),
  );
  clearTimeout(windowTimer);
  clearTimeout(closeTimer);
  cpuUsed ??= process.cpuUsage(cpuAtStart);
  const failure = outcomes.find((r) => r.status === 'rejected');
  await Promise.all(
    clients.map(async (c) => {
      if (failure === undefined) await c.quit();
      else c.destroy();
    }),
  );
  if (failure !== undefined) throw failure.reason instanceof Error ? failure.reason : new Error(String(failure.reason));
  return {
    completed: latencies.count,
    measuredMs: o.measureMs,
    latencies: latencies.sorted(),
    maxLatencyMs,
    clientCpuPercent: ((cpuUsed.user + cpuUsed.system) / 1000 / o.measureMs) * 100,
  };
}
