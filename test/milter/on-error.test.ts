import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { once } from 'node:events';
import { createMilterServer, MilterClient, type MilterErrorKind } from '../../src/milter/index.ts';
import { silentLogger } from '../../src/log.ts';

test('onError hears hook failures, timeouts and protocol errors', async () => {
  const kinds: MilterErrorKind[] = [];
  const server = createMilterServer({
    logger: silentLogger(),
    hookTimeoutMs: 50,
    onError: (k) => kinds.push(k),
    filter: {
      actions: [],
      open: () => ({
        rcptTo: (_ctx, r) => {
          if (r.address.startsWith('throw')) throw new Error('boom');
          if (r.address.startsWith('slow')) return new Promise(() => undefined);
          return undefined;
        },
      }),
    },
  });
  const { spec, port } = await server.listen('inet:127.0.0.1:0');
  try {
    const client = await MilterClient.connect(spec);
    await client.negotiate();
    await client.mailFrom('<a@b.example>');
    assert.equal((await client.rcptTo('<throw@x.example>')).kind, 'tempfail');
    assert.equal((await client.rcptTo('<slow@x.example>')).kind, 'tempfail');
    await client.quit();
    const raw = connect(port ?? 0, '127.0.0.1');
    await once(raw, 'connect');
    raw.write(Buffer.from([0, 0, 0, 0]));
    await once(raw, 'close');
    assert.deepEqual(kinds, ['hook-failed', 'hook-timeout', 'protocol']);
  } finally {
    await server.close(1000);
  }
});
