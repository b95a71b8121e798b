// The lookup servers started by the daemon share the milter's resolver, count their answers in
// the metrics, and apply the same health policy as the milter (a failed onion is deferred).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Daemon } from '../../src/daemon/daemon.ts';
import { parseConfigText } from '../../src/config/load.ts';
import { silentLogger } from '../../src/log.ts';
import { socketmapClient } from '../lookup/lookup-clients.ts';

const A = 'aj3nsqqcksrrc5cye5etjsoewz6jrygpekzwoko3q6wyxjlb3dgasfid.onion';

test('lookup answers are counted per server and result', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'onionmx-lookup-wiring-'));
  writeFileSync(join(dir, 'pins.yml'), `pinned.example: ${A}\n`);
  const r = parseConfigText(
    `milter:\n  listen: inet:127.0.0.1:0\nmaps: [${join(dir, 'pins.yml')}]\nbundled_map: false\nsrv:\n  enabled: false\nlookup:\n  socketmap: inet:127.0.0.1:0\n`,
    'c.yml',
  );
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  const daemon = new Daemon(r.config, silentLogger());
  try {
    const listeners = await daemon.start();
    const spec = listeners.lookup?.socketmap ?? '';
    const port = Number(/:(\d+)$/.exec(spec)?.[1]);
    const client = await socketmapClient({ port });
    try {
      assert.match((await client.ask('transport', 'user@pinned.example')) ?? '', /^OK onionrelay:\[aj3n/);
      assert.match((await client.ask('transport', 'user@other.example')) ?? '', /^NOTFOUND/);
    } finally {
      client.close();
    }
    const text = await daemon.metrics.text();
    assert.match(text, /onionmx_lookup_requests_total\{server="socketmap",result="route"\} 1/);
    assert.match(text, /onionmx_lookup_requests_total\{server="socketmap",result="none"\} 1/);
  } finally {
    await daemon.close(1000);
    rmSync(dir, { recursive: true, force: true });
  }
});
