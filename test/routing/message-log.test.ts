// The routing filter's log lines, as an operator reads them: one info line per message with every
// recipient's decision, deferrals folded into it (or into the line of a transaction that ended
// without a message), lookup latency only where DNS was waited for, no full address at info.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createMilterServer, MilterClient, type MilterServer } from '../../src/milter/index.ts';
import { createRoutingFilter, decisionText, type RoutingSettings, type RouteResolver } from '../../src/routing/milter-filter.ts';
import type { Decision } from '../../src/resolve/types.ts';
import { createLogger } from '../../src/log.ts';

const A = 'aj3nsqqcksrrc5cye5etjsoewz6jrygpekzwoko3q6wyxjlb3dgasfid.onion';

function decide(domain: string): Decision {
  if (domain === 'pinned.example') return { kind: 'route', domain, onion: A, port: 25, source: 'static', dnssec: false, ttl: 300, hops: [{ onion: A, port: 25 }], origin: 'pins.yml:1' };
  if (domain === 'srv.example') return { kind: 'route', domain, onion: A, port: 25, source: 'srv', dnssec: true, ttl: 300, hops: [{ onion: A, port: 25 }], origin: '_onion-mx._tcp.srv.example' };
  return { kind: 'none', domain, reason: 'nxdomain', ttl: 60 };
}

const domainOf = (input: string): string => input.slice(input.lastIndexOf('@') + 1).toLowerCase();

/** Maps answer at once (peek); srv.example needs a "DNS lookup" (resolve only). */
const resolver: RouteResolver = {
  resolve: (input) => Promise.resolve(decide(domainOf(input))),
  peek: (input) => (domainOf(input) === 'srv.example' ? undefined : decide(domainOf(input))),
};

type Line = Record<string, unknown>;

async function startFilter(format: 'postfix' | 'domain-list', lines: Line[]): Promise<{ server: MilterServer; client: MilterClient }> {
  const s: RoutingSettings = {
    resolver,
    headerName: 'X-Onion-Route',
    header: format === 'postfix' ? { format, transport: 'smtptor' } : { format },
    mixedRoutes: 'defer',
    mixedRoutesMaxDefer: 5,
    routeMailers: ['smtp'],
  };
  const log = createLogger({
    level: 'info',
    destination: new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString('utf8').split('\n')) if (l !== '') lines.push(JSON.parse(l) as Line);
        done();
      },
    }),
  });
  const server = createMilterServer({ filter: createRoutingFilter({ settings: () => s, submission: false }), logger: log });
  const { spec } = await server.listen('inet:127.0.0.1:0');
  const client = await MilterClient.connect(spec);
  await client.negotiate();
  client.macro('C', { j: 'mx.test' });
  await client.connect('client.example', 'inet', 40000, '192.0.2.1');
  await client.helo('client.example');
  return { server, client };
}

async function rcpts(client: MilterClient, qid: string, addrs: string[]): Promise<void> {
  client.macro('M', { i: qid });
  await client.mailFrom('<sender@client.example>');
  for (const a of addrs) {
    client.macro('R', { i: qid, '{rcpt_mailer}': 'smtp' });
    await client.rcptTo(a);
  }
}

async function message(client: MilterClient, qid: string, addrs: string[]): Promise<void> {
  await rcpts(client, qid, addrs);
  await client.data();
  await client.header('Subject', 'hi');
  await client.endOfHeaders();
  await client.body(Buffer.from('body\r\n'));
  client.macro('E', { i: qid });
  await client.endOfMessage();
}

async function lineFor(lines: Line[], qid: string, msg: string): Promise<Line> {
  for (let i = 0; i < 200; i++) {
    const found = lines.find((l) => l['qid'] === qid && l['msg'] === msg);
    if (found !== undefined) return found;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`no "${msg}" line for ${qid}; got ${JSON.stringify(lines)}`);
}

describe('routing filter log lines', () => {
  const lines: Line[] = [];
  let server: MilterServer;
  let client: MilterClient;

  before(async () => {
    ({ server, client } = await startFilter('postfix', lines));
  });
  after(async () => {
    await client.quit();
    await server.close(1000);
  });

  test('one info line per message: route, counts and each recipient decision, the deferred one marked', async () => {
    await message(client, 'Q1', ['<alice@pinned.example>', '<bob@srv.example>', '<carol@clear.example>']);
    const line = await lineFor(lines, 'Q1', 'message routed');
    assert.equal(line['level'], 'info');
    assert.equal(line['route'], `smtptor:[${A}]:25`);
    assert.equal(line['recipients'], 2);
    assert.equal(line['deferred'], 1);
    const decisions = line['decisions'] as string[];
    assert.equal(decisions[0], `pinned.example route static ${A}:25`);
    assert.match(decisions[1] ?? '', new RegExp(`^srv\\.example route srv dnssec ${A}:25 \\d+\\.\\dms$`), 'a waited-for lookup carries its latency');
    assert.equal(decisions[2], 'clear.example none nxdomain deferred');
    assert.equal(lines.filter((l) => l['qid'] === 'Q1').length, 1, 'the deferral is part of the message line, not a line of its own');
  });

  test('a transaction with a deferred recipient that ends without a message still logs what it deferred', async () => {
    await rcpts(client, 'Q2', ['<alice@pinned.example>', '<carol@clear.example>']);
    client.abort();
    const line = await lineFor(lines, 'Q2', 'transaction ended before end of message; deferred recipients were refused');
    assert.deepEqual(line['decisions'], [`pinned.example route static ${A}:25`, 'clear.example none nxdomain deferred']);
  });

  test('no info line carries a full address', () => {
    assert.ok(lines.length >= 2);
    for (const l of lines) assert.doesNotMatch(JSON.stringify(l), /@/, JSON.stringify(l));
  });
});

describe('decisionText', () => {
  test('every decision kind, latency and refusal', () => {
    assert.equal(decisionText(decide('pinned.example'), 'accept', undefined), `pinned.example route static ${A}:25`);
    assert.equal(decisionText(decide('srv.example'), 'accept', 12.345), `srv.example route srv dnssec ${A}:25 12.3ms`);
    assert.equal(decisionText({ kind: 'tempfail', domain: 'b.example', reason: 'servfail', detail: 'SERVFAIL', ttl: 0 }, 'tempfail', 3), 'b.example tempfail servfail 3.0ms tempfailed');
    assert.equal(decisionText({ kind: 'reject', domain: 'x.onion', reason: 'bad checksum' }, 'reject', undefined), 'x.onion reject rejected');
    assert.equal(decisionText(decide('c.example'), 'defer', undefined), 'c.example none nxdomain deferred');
  });
});
