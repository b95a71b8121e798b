// The routing filter on the real engine, driven over a loopback socket by our MTA-side client,
// as Postfix would drive it (macros included).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createMilterServer, MilterClient, type MilterServer } from '../../src/milter/index.ts';
import { createRoutingFilter, type RoutingSettings, type RouteResolver } from '../../src/routing/milter-filter.ts';
import type { Decision } from '../../src/resolve/types.ts';
import { silentLogger } from '../../src/log.ts';

const A = 'aj3nsqqcksrrc5cye5etjsoewz6jrygpekzwoko3q6wyxjlb3dgasfid.onion';
const B = 'llqiiswupgezsco4ux47cco3bxsaihbss5c3piefv6bhvpgfofyk7kad.onion';

const route = (domain: string, onion: string): Decision => ({ kind: 'route', domain, onion, port: 25, source: 'static', dnssec: false, ttl: 300, hops: [{ onion, port: 25 }], origin: 'pins.yml:1' });

/** A resolver with a fixed answer per domain, recording what it was asked. */
function fakeResolver(): RouteResolver & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    resolve(input: string): Promise<Decision> {
      const domain = input.slice(input.lastIndexOf('@') + 1).toLowerCase();
      asked.push(domain);
      if (domain === 'a.example' || domain === 'a2.example') return Promise.resolve(route(domain, A));
      if (domain === 'b.example') return Promise.resolve(route(domain, B));
      if (domain === 'broken.example') return Promise.resolve({ kind: 'tempfail', domain, reason: 'servfail', detail: 'SERVFAIL', ttl: 0 });
      if (domain.endsWith('.onion')) return Promise.resolve({ kind: 'reject', domain, reason: 'v2 onion services no longer work in Tor' });
      return Promise.resolve({ kind: 'none', domain, reason: 'nxdomain', ttl: 60 });
    },
  };
}

function settings(resolver: RouteResolver, over: Partial<RoutingSettings> = {}): RoutingSettings {
  return {
    resolver,
    headerName: 'X-Onion-Route',
    header: { format: 'postfix', transport: 'smtptor' },
    mixedRoutes: 'defer',
    mixedRoutesMaxDefer: 5,
    routeMailers: ['smtp', 'esmtp', 'relay'],
    ...over,
  };
}

async function startFilter(s: RoutingSettings, submission = false): Promise<{ server: MilterServer; spec: string }> {
  const server = createMilterServer({ filter: createRoutingFilter({ settings: () => s, submission }), logger: silentLogger() });
  const { spec } = await server.listen('inet:127.0.0.1:0');
  return { server, spec };
}

interface Txn {
  rcpts: { addr: string; mailer?: string }[];
  headers?: [string, string][];
}

async function transaction(client: MilterClient, t: Txn): Promise<{ rcpt: string[]; eom: Awaited<ReturnType<MilterClient['endOfMessage']>> }> {
  await client.mailFrom('<sender@client.example>');
  const rcpt: string[] = [];
  for (const r of t.rcpts) {
    client.macro('R', { '{rcpt_mailer}': r.mailer ?? 'smtp', '{rcpt_addr}': r.addr.replace(/[<>]/g, '') });
    const res = await client.rcptTo(r.addr);
    rcpt.push(res.kind === 'replyCode' ? res.text : res.kind);
  }
  await client.data();
  for (const [n, v] of t.headers ?? [['Subject', 'hi']]) await client.header(n, v);
  await client.endOfHeaders();
  await client.body(Buffer.from('body\r\n'));
  const eom = await client.endOfMessage();
  return { rcpt, eom };
}

describe('routing filter over the milter protocol', () => {
  let resolver: ReturnType<typeof fakeResolver>;
  let server: MilterServer;
  let client: MilterClient;

  before(async () => {
    resolver = fakeResolver();
    const started = await startFilter(settings(resolver));
    server = started.server;
    client = await MilterClient.connect(started.spec);
    await client.negotiate();
    client.macro('C', { j: 'mx.test' });
    await client.connect('client.example', 'inet', 40000, '192.0.2.1');
    await client.helo('client.example');
  });
  after(async () => {
    await client.quit();
    await server.close(1000);
  });

  test('an onion-routed recipient gets the Postfix FILTER header; forged copies are deleted in reverse order', async () => {
    const { rcpt, eom } = await transaction(client, {
      rcpts: [{ addr: '<u@a.example>' }, { addr: '<v@a2.example>' }],
      headers: [
        ['X-Onion-Route', 'smtp:[evil.example]:25'],
        ['Subject', 'hi'],
        ['x-onion-route', 'smtp:[evil2.example]:25'],
      ],
    });
    assert.deepEqual(rcpt, ['continue', 'continue']);
    assert.deepEqual(eom.modifications, [
      { kind: 'changeHeader', index: 2, name: 'X-Onion-Route', value: '' },
      { kind: 'changeHeader', index: 1, name: 'X-Onion-Route', value: '' },
      { kind: 'addHeader', name: 'X-Onion-Route', value: `smtptor:[${A}]:25` },
    ]);
    assert.equal(eom.reply.kind, 'continue');
  });

  test('clearnet mail is not tagged, but forged headers are still removed', async () => {
    const { eom } = await transaction(client, { rcpts: [{ addr: '<u@clear.example>' }], headers: [['X-Onion-Route', `smtptor:[${B}]:25`]] });
    assert.deepEqual(eom.modifications, [{ kind: 'changeHeader', index: 1, name: 'X-Onion-Route', value: '' }]);
  });

  test('mixed routes: a recipient of another class gets 452 4.5.3', async () => {
    const { rcpt, eom } = await transaction(client, { rcpts: [{ addr: '<u@a.example>' }, { addr: '<w@clear.example>' }, { addr: '<x@b.example>' }] });
    assert.equal(rcpt[0], 'continue');
    assert.match(rcpt[1] ?? '', /^452 4\.5\.3 /);
    assert.match(rcpt[2] ?? '', /^452 4\.5\.3 /);
    assert.deepEqual(eom.modifications, [{ kind: 'addHeader', name: 'X-Onion-Route', value: `smtptor:[${A}]:25` }]);
  });

  test('a lookup failure answers 451 4.4.3 for that recipient only; an invalid onion 550 5.1.2', async () => {
    const { rcpt, eom } = await transaction(client, { rcpts: [{ addr: '<u@broken.example>' }, { addr: '<u@abcdefghijklmnop.onion>' }, { addr: '<u@b.example>' }] });
    assert.match(rcpt[0] ?? '', /^451 4\.4\.3 Onion route lookup for broken\.example failed temporarily \(servfail: SERVFAIL\)/);
    assert.match(rcpt[1] ?? '', /^550 5\.1\.2 Bad destination abcdefghijklmnop\.onion: v2 onion services no longer work in Tor/);
    assert.equal(rcpt[2], 'continue');
    assert.deepEqual(eom.modifications, [{ kind: 'addHeader', name: 'X-Onion-Route', value: `smtptor:[${B}]:25` }]);
  });

  test('local deliveries ({rcpt_mailer} not an SMTP mailer) are never looked up, and count as the default route', async () => {
    const before = resolver.asked.length;
    const { rcpt, eom } = await transaction(client, { rcpts: [{ addr: '<postmaster@a.example>', mailer: 'local' }, { addr: '<u@a.example>' }] });
    assert.equal(resolver.asked.length - before, 1, 'only the smtp recipient was resolved');
    assert.deepEqual(rcpt.map((r) => r.slice(0, 3)), ['con', '452']);
    assert.deepEqual(eom.modifications, []);
  });

  test('after ABORT the next transaction starts clean', async () => {
    await client.mailFrom('<s@client.example>');
    client.macro('R', { '{rcpt_mailer}': 'smtp' });
    await client.rcptTo('<u@a.example>');
    client.abort();
    const { rcpt, eom } = await transaction(client, { rcpts: [{ addr: '<u@b.example>' }] });
    assert.deepEqual(rcpt, ['continue']);
    assert.deepEqual(eom.modifications, [{ kind: 'addHeader', name: 'X-Onion-Route', value: `smtptor:[${B}]:25` }]);
  });
});

describe('routing filter formats and modes', () => {
  test('domain-list format lists each onion domain and never defers', async () => {
    const { server, spec } = await startFilter(settings(fakeResolver(), { header: { format: 'domain-list' }, mixedRoutes: 'allow' }));
    const client = await MilterClient.connect(spec);
    try {
      await client.negotiate();
      const { rcpt, eom } = await transaction(client, { rcpts: [{ addr: '<u@b.example>' }, { addr: '<w@clear.example>' }, { addr: '<x@a.example>' }] });
      assert.deepEqual(rcpt, ['continue', 'continue', 'continue']);
      assert.deepEqual(eom.modifications, [{ kind: 'addHeader', name: 'X-Onion-Route', value: `a.example=${A}:25 b.example=${B}:25` }]);
    } finally {
      await client.quit();
      await server.close(1000);
    }
  });

  test('local submission (non_smtpd): nothing refused at RCPT; a failed lookup tempfails the message at end of message', async () => {
    const { server, spec } = await startFilter(settings(fakeResolver()), true);
    const client = await MilterClient.connect(spec);
    try {
      await client.negotiate();
      const ok = await transaction(client, { rcpts: [{ addr: 'u@a.example' }, { addr: 'w@clear.example' }] });
      assert.deepEqual(ok.rcpt, ['continue', 'continue']);
      assert.deepEqual(ok.eom.modifications, [], 'mixed routes cannot be split: untagged');
      const bad = await transaction(client, { rcpts: [{ addr: 'u@broken.example' }] });
      assert.deepEqual(bad.rcpt, ['continue']);
      assert.equal(bad.eom.reply.kind, 'replyCode');
      assert.match(bad.eom.reply.kind === 'replyCode' ? bad.eom.reply.text : '', /^451 4\.4\.3 /);
    } finally {
      await client.quit();
      await server.close(1000);
    }
  });

  test('template format', async () => {
    const { server, spec } = await startFilter(settings(fakeResolver(), { header: { format: 'template', template: 'relay:[{onion}]:{port}', transport: 'x' } }));
    const client = await MilterClient.connect(spec);
    try {
      await client.negotiate();
      const { eom } = await transaction(client, { rcpts: [{ addr: '<u@a.example>' }] });
      assert.deepEqual(eom.modifications, [{ kind: 'addHeader', name: 'X-Onion-Route', value: `relay:[${A}]:25` }]);
    } finally {
      await client.quit();
      await server.close(1000);
    }
  });
});

describe('routing filter with a resolver that can peek', () => {
  test('recipients the resolver knows without I/O are answered from peek, the rest through resolve, with the same replies', async () => {
    const slow = fakeResolver();
    const peeked: string[] = [];
    const resolver: RouteResolver = {
      resolve: (input, signal) => slow.resolve(input, signal),
      peek(input) {
        const domain = input.slice(input.lastIndexOf('@') + 1).toLowerCase();
        peeked.push(domain);
        return domain === 'a.example' || domain === 'clear.example' ? route(domain, A) : undefined;
      },
    };
    const { server, spec } = await startFilter(settings(resolver));
    const client = await MilterClient.connect(spec);
    try {
      await client.negotiate();
      const { rcpt, eom } = await transaction(client, { rcpts: [{ addr: '<u@a.example>' }, { addr: '<v@clear.example>' }, { addr: '<w@b.example>' }, { addr: '<x@local.example>', mailer: 'local' }] });
      assert.deepEqual(peeked, ['a.example', 'clear.example', 'b.example'], 'local deliveries are not even peeked');
      assert.deepEqual(slow.asked, ['b.example'], 'only the recipient peek could not answer was resolved');
      assert.deepEqual(rcpt.map((r) => r.slice(0, 3)), ['con', 'con', '452', '452']);
      assert.deepEqual(eom.modifications, [{ kind: 'addHeader', name: 'X-Onion-Route', value: `smtptor:[${A}]:25` }]);
    } finally {
      await client.quit();
      await server.close(1000);
    }
  });
});
