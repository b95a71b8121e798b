// Property tests against a live server: arbitrary bytes and mutated valid streams never crash or
// hang it; each such connection is closed (after the MTA's EOF at the latest), and the server
// still serves a normal session afterwards.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import fc from 'fast-check';
import { createMilterServer, MilterClient, type FilterSpec, type MilterServer } from '../../src/milter/index.ts';
import { postfixConversation, recordingLogger, waitFor } from '../helpers/milter-fixtures.ts';

const filter: FilterSpec = {
  actions: ['addHeader', 'changeHeader'],
  noReply: ['header'],
  macros: { rcpt: ['{rcpt_mailer}'] },
  open: () => ({
    connect: () => undefined,
    rcptTo: (ctx, r) => (r.address.includes('bad') ? { kind: 'reply', code: 550, enhanced: '5.1.1', text: ctx.macros.get('i') ?? 'x' } : undefined),
    header: () => undefined,
    body: () => undefined,
    endOfMessage: (ctx) => { ctx.addHeader('X-Onion-Route', 'smtptor:[x.onion]:25'); ctx.deleteHeader('X-Onion-Route', 1); return undefined; },
  }),
};

/** Writes the bytes, half-closes, and resolves once the server has closed the connection. */
function sendAndWaitForClose(port: number, bytes: Uint8Array): Promise<void> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.on('error', () => undefined); // the server may close before we finish writing
    s.on('data', () => undefined);
    s.once('close', () => { resolve(); });
    s.once('connect', () => { s.end(bytes); });
  });
}

const valid = postfixConversation();
/** Fixed seed for reproducible runs; set ONIONMX_FUZZ_SEED to explore other inputs. */
const seed = Number(process.env['ONIONMX_FUZZ_SEED'] ?? 20261125);

/** A valid Postfix stream with a few random byte-level mutations. */
const mutatedStream = fc
  .array(
    fc.oneof(
      fc.record({ op: fc.constant('flip' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ op: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 8 }) }),
      fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
      fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
    ),
    { minLength: 1, maxLength: 4 },
  )
  .map((mutations) => {
    let b = Buffer.concat(valid);
    for (const m of mutations) {
      const at = m.at % (b.length + 1);
      if (m.op === 'flip' && at < b.length) { b = Buffer.from(b); b[at] = m.value; }
      else if (m.op === 'delete') b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.count)]);
      else if (m.op === 'insert') b = Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at)]);
      else if (m.op === 'truncate') b = b.subarray(0, at);
    }
    return b;
  });

/** Framed packets with random command bytes and payloads after a valid negotiation. */
const randomPackets = fc
  .array(fc.tuple(fc.integer({ min: 0x20, max: 0x7f }), fc.uint8Array({ maxLength: 40 })), { maxLength: 12 })
  .map((packets) => Buffer.concat([
    valid[0]!,
    ...packets.map(([code, data]) => {
      const head = Buffer.alloc(5);
      head.writeUInt32BE(data.length + 1, 0);
      head[4] = code;
      return Buffer.concat([head, data]);
    }),
  ]));

describe('fuzzing a live server', () => {
  let server: MilterServer;
  let port = 0;
  let lines: Record<string, unknown>[] = [];
  before(async () => {
    const rec = await recordingLogger();
    lines = rec.lines;
    server = createMilterServer({ filter, logger: rec.log, maxFrameBytes: 64 * 1024 });
    port = (await server.listen('inet:127.0.0.1:0')).port ?? 0;
  });
  after(async () => server.close(1000));

  async function stillServes(): Promise<void> {
    const c = await MilterClient.connect(`inet:127.0.0.1:${port}`);
    await c.negotiate();
    assert.deepEqual(await c.connect('h', 'inet', 25, '192.0.2.1'), { kind: 'continue' });
    assert.deepEqual(await c.rcptTo('<bad@x>'), { kind: 'replyCode', text: '550 5.1.1 x' });
    const eom = await c.endOfMessage();
    assert.equal(eom.modifications.length, 2);
    await c.quit();
  }

  it('arbitrary bytes: every connection is closed, the server survives', async () => {
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), (bytes) => sendAndWaitForClose(port, bytes)), { numRuns: 200, seed });
    await stillServes();
  });

  it('mutated valid Postfix streams: closed cleanly, protocol errors logged with a code', async () => {
    await fc.assert(fc.asyncProperty(mutatedStream, (bytes) => sendAndWaitForClose(port, bytes)), { numRuns: 300, seed });
    const errors = lines.filter((l) => l['msg'] === 'milter protocol error; closing connection');
    assert.ok(errors.length > 0, 'some mutations broke the protocol');
    assert.ok(errors.every((l) => typeof l['code'] === 'string' && l['code'].startsWith('ONIONMX_MILTER_')));
    assert.ok(!lines.some((l) => l['msg'] === 'unexpected error in milter session; closing connection'), 'no uncoded errors');
    await stillServes();
  });

  it('random packets after negotiation: closed cleanly, the server survives', async () => {
    await fc.assert(fc.asyncProperty(randomPackets, (bytes) => sendAndWaitForClose(port, bytes)), { numRuns: 300, seed });
    assert.ok(!lines.some((l) => l['msg'] === 'unexpected error in milter session; closing connection'), 'no uncoded errors');
    await stillServes();
    await waitFor(() => server.connectionCount === 0, 'every fuzz connection to be released');
  });
});
