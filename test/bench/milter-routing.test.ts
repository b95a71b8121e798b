// The routing rows of bench:milter compare the routing filter with a plain filter; that means
// something only if both negotiate the same events, the routing filter answers the scenario the
// client checks (a warm cache, so no DNS during the run), and the client's checks can fail.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../../src/log.ts';
import { createMilterServer, type MilterServer } from '../../src/milter/server.ts';
import type { FilterSpec } from '../../src/milter/types.ts';
import { negotiatedEvents, openConnection, transaction, type Scenario } from './milter-load.ts';
import { PLAIN_ROUTING_EVENTS_SCENARIO, plainRoutingEventsFilter, ROUTING_SCENARIOS, ROUTING_VARIANTS, startRoutingFilter, type RoutingFilter } from './milter-routing-setup.ts';

async function runTransactions(spec: string, scenario: Scenario): Promise<void> {
  const client = await openConnection(spec, 0);
  try {
    await transaction(client, 'Q1', scenario);
    await transaction(client, 'Q2', scenario);
  } finally {
    client.destroy();
  }
}

describe('bench:milter routing filters', () => {
  const servers: MilterServer[] = [];
  const routing = new Map<string, RoutingFilter>();
  const specs = new Map<string, string>();

  const serve = async (name: string, filter: FilterSpec): Promise<void> => {
    const server = createMilterServer({ filter, logger: silentLogger() });
    servers.push(server);
    specs.set(name, (await server.listen('inet:127.0.0.1:0')).spec);
  };
  const specOf = (name: string): string => {
    const spec = specs.get(name);
    assert.ok(spec !== undefined, `${name} not started`);
    return spec;
  };

  before(async () => {
    await serve('plain', plainRoutingEventsFilter());
    for (const variant of ROUTING_VARIANTS) {
      const started = await startRoutingFilter(variant, silentLogger());
      routing.set(variant, started);
      await serve(variant, started.filter);
    }
  });

  after(async () => {
    await Promise.all(servers.map((s) => s.close(1000)));
    await Promise.all([...routing.values()].map((r) => r.close()));
  });

  it('the plain filter negotiates exactly what the routing filter negotiates', async () => {
    const plain = await negotiatedEvents(specOf('plain'));
    assert.ok(plain.includes('rcpt'), `RCPT with a reply, the routing decision: ${plain.join(', ')}`);
    assert.ok(plain.some((e) => e.startsWith('header')), `headers, for forged routing headers: ${plain.join(', ')}`);
    for (const variant of ROUTING_VARIANTS) assert.deepEqual(await negotiatedEvents(specOf(variant)), plain, variant);
  });

  it('each answers its scenario on two transactions per connection, from the warm cache', async () => {
    await runTransactions(specOf('plain'), PLAIN_ROUTING_EVENTS_SCENARIO);
    for (const variant of ROUTING_VARIANTS) {
      await runTransactions(specOf(variant), ROUTING_SCENARIOS[variant]);
      assert.equal(routing.get(variant)?.queriesAfterWarmup(), 0, `${variant}: no DNS query after warm-up`);
    }
  });

  it('the client notices a filter that answers another scenario', async () => {
    await assert.rejects(runTransactions(specOf('domain-list'), ROUTING_SCENARIOS.defer), /rcpt carol@clearnet\.example: expected a 452 reply/);
    await assert.rejects(runTransactions(specOf('defer'), ROUTING_SCENARIOS['domain-list']), /rcpt carol@clearnet\.example: expected continue/);
    await assert.rejects(runTransactions(specOf('plain'), ROUTING_SCENARIOS['domain-list']), /end of message: expected only "X-Onion-Route: /);
  });
});
