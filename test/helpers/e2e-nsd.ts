// A real authoritative DNS server (nsd) for the end-to-end suites: unsigned zones on 127.0.0.1 at a
// free port, in the test's own network namespace. nsd only answers (no recursion, no transfers or
// NOTIFY configured), so it never reaches out. A zone given without records is configured with a
// zone file that does not exist: nsd then answers SERVFAIL for every name in it, as it does for a
// zone it failed to load — a real broken-DNS case, no fault injection needed.
//
// Start-up is event driven: after spawning nsd, one SOA query per zone is retried until nsd answers
// (bounded), so the suite never sleeps for a fixed time.
import type { ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decode, encode } from 'dns-packet';
import { findProgram } from './system.ts';
import { removeAtProcessEnd } from './process-end.ts';
import { nsdZoneText, spawnNsd, type NsdProcess } from './nsd.ts';

export interface NsdZone {
  /** The apex, e.g. `onionmx.example`. */
  readonly origin: string;
  /** Zone-file lines relative to the origin (SOA and NS are added); `undefined`: a broken zone (SERVFAIL). */
  readonly records: readonly string[] | undefined;
}

export interface Nsd {
  readonly address: '127.0.0.1';
  readonly port: number;
  /** `127.0.0.1:<port>`, as `dns.servers` takes it. */
  readonly server: string;
  close(): Promise<void>;
}

const START_BOUND_MS = 10_000;

export async function startNsd(zones: readonly NsdZone[]): Promise<Nsd> {
  if (findProgram('nsd') === undefined) throw new Error('startNsd: nsd not installed');
  const dir = mkdtempSync(join(tmpdir(), 'onionmx-nsd-'));
  const release = removeAtProcessEnd(dir);
  let nsd: NsdProcess | undefined;
  const close = async (): Promise<void> => {
    if (nsd !== undefined) await nsd.stop();
    rmSync(dir, { recursive: true, force: true });
    release();
  };
  try {
    const configured = zones.map((zone) => {
      const file = join(dir, `${zone.origin}.zone`);
      if (zone.records !== undefined) writeFileSync(file, nsdZoneText(zone.origin, zone.records));
      return { origin: zone.origin, file };
    });
    // nsd binds UDP and TCP on the same port; a port taken meanwhile makes nsd exit, so retry.
    for (let attempt = 1; ; attempt++) {
      const port = await freeUdpPort();
      nsd = spawnNsd(dir, port, configured);
      const probe = zones[0]?.origin ?? '.';
      const answered = await waitForAnswer(port, probe, nsd.child);
      if (answered) return { address: '127.0.0.1', port, server: `127.0.0.1:${port}`, close };
      await nsd.stop();
      if (attempt >= 3) throw new Error(`nsd did not start:\n${nsd.log()}`);
    }
  } catch (err) {
    await close();
    throw err;
  }
}

/** Sends SOA queries until one is answered (any rcode), nsd exits, or the bound passes. */
async function waitForAnswer(port: number, name: string, child: ChildProcess): Promise<boolean> {
  const socket = createSocket('udp4');
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  try {
    return await new Promise<boolean>((resolve) => {
      let id = 1;
      const send = (): void => {
        id = (id + 1) % 65536;
        socket.send(encode({ type: 'query', id, flags: 0, questions: [{ name, type: 'SOA', class: 'IN' }] }), port, '127.0.0.1');
      };
      const finish = (answered: boolean): void => {
        clearInterval(retry);
        clearTimeout(bound);
        child.off('exit', onExit);
        resolve(answered);
      };
      const onExit = (): void => {
        finish(false);
      };
      socket.on('message', (message) => {
        try {
          if (decode(message).type === 'response') finish(true);
        } catch {
          // not DNS: keep waiting
        }
      });
      child.once('exit', onExit);
      const retry = setInterval(send, 50);
      const bound = setTimeout(() => {
        finish(false);
      }, START_BOUND_MS);
      send();
    });
  } finally {
    socket.close();
  }
}

function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      const { port } = socket.address();
      socket.close(() => {
        resolve(port);
      });
    });
  });
}
