// Faults of the daemon itself: killed, reloaded with a broken config or a huge map, its log output
// failing or stalled, its file descriptors used up.
import { readdirSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { loadavg, setPriority } from 'node:os';
import { ed25519 } from '@noble/curves/ed25519.js';
import { onionFromPublicKey } from '../../src/resolve/onion.ts';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { PauseFigures } from './pause-probe.ts';
import { openSmtp, type SmtpSession } from '../helpers/smtp-client.ts';
import { buildMessage } from '../helpers/smtp-message.ts';
import { ONION, PINNED_DOMAIN, ZONE, type Lab } from './lab.ts';
import type { Cell, CellContext } from './matrix.ts';

/** The longest a socketmap lookup (same event loop as the milter) may wait during a reload. */
export const PAUSE_TARGET_MS = 50;
const PROBE = fileURLToPath(new URL('./pause-probe.js', import.meta.url));
const MAP_ENTRIES = 50_000;

async function reloadAndWait(lab: Lab, msg: RegExp): Promise<void> {
  const logged = lab.daemon.logged;
  const mark = logged?.mark() ?? 0;
  lab.daemon.reload();
  await logged?.waitFor(msg, { since: mark, timeoutMs: 30_000 });
}

/** The pause probe (pause-probe.ts) as a child at nice -10; `stop` closes its stdin and reads its figures. */
function pauseProbe(port: number): { stop: () => Promise<PauseFigures> } {
  const child = spawn(process.execPath, [PROBE, String(port), `probe@${PINNED_DOMAIN}`], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  const exited = once(child, 'exit');
  try {
    setPriority(child.pid ?? 0, -10);
  } catch {
    // not root: it runs at the normal priority
  }
  return {
    stop: async () => {
      child.stdin.end();
      await exited;
      return JSON.parse(out) as PauseFigures;
    },
  };
}

/** `n` pins, each its own domain, to valid onions (one key per 256 entries keeps generation cheap). */
function bigMap(n: number): string {
  const onions = Array.from({ length: 256 }, (_, i) => onionFromPublicKey(ed25519.getPublicKey(new Uint8Array(32).fill(i).map((b, j) => (j === 0 ? 7 : b)))));
  const lines = [`${PINNED_DOMAIN}: ${ONION}`];
  for (let i = 0; i < n; i++) lines.push(`m${i}.bigmap.${ZONE}: ${onions[i % 256] ?? ONION}`);
  return `${lines.join('\n')}\n`;
}

function boost(lab: Lab, nice: number): void {
  try {
    setPriority(lab.daemon.child.pid ?? 0, nice);
  } catch {
    // not root: measured at the normal priority
  }
}

function openFds(pid: number | undefined): number {
  return pid === undefined ? 0 : readdirSync(`/proc/${pid}/fd`).length;
}

/** Opens connections to the milter port and holds them until `count` are open or one is refused or closed. */
async function exhaust(port: number, max: number): Promise<{ held: Socket[]; refused: string }> {
  const held: Socket[] = [];
  for (let i = 0; i < max; i++) {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    try {
      await once(socket, 'connect');
    } catch (err) {
      return { held, refused: `connect failed: ${(err as NodeJS.ErrnoException).code ?? String(err)}` };
    }
    held.push(socket);
    // A server out of descriptors accepts and closes at once (libuv's EMFILE handling), or never accepts.
    const closed = await Promise.race([once(socket, 'close').then(() => true), new Promise<boolean>((r) => setTimeout(() => { r(false); }, 100))]);
    if (closed) return { held, refused: `connection ${i + 1} closed at once` };
  }
  return { held, refused: 'none refused' };
}

let heldSockets: Socket[] = [];
let openSession: SmtpSession | undefined;
let fdBaseline = 0;

export const daemonCells: readonly Cell[] = [
  {
    group: 'daemon',
    name: 'SIGKILL under load',
    cutsInFlight: true,
    inject: async (lab) => {
      const exited = once(lab.daemon.child, 'exit');
      lab.daemon.child.kill('SIGKILL');
      await exited;
    },
    heal: (lab) => lab.restartDaemon(),
  },
  {
    group: 'daemon',
    name: 'SIGHUP with a broken config',
    smoke: true,
    inject: async (lab) => {
      writeFileSync(lab.configPath, 'milter:\n  listen: [this is not valid\n');
      await reloadAndWait(lab, /reload rejected/);
    },
    heal: async (lab) => {
      lab.writeConfig();
      await reloadAndWait(lab, /configuration reloaded/);
    },
    check: (_lab, r) => (r.mtaSaw.split(', ').every((s) => s.startsWith('250 ')) ? [] : [`refusals while the old config should serve: ${r.mtaSaw}`]),
  },
  {
    group: 'daemon',
    name: `SIGHUP with a ${MAP_ENTRIES / 1000}k-entry map`,
    inject: async (lab, context: CellContext) => {
      writeFileSync(lab.pinsPath, bigMap(MAP_ENTRIES));
      // The machine is shared: the daemon's main thread and the probe run above the other users'
      // processes, so the pause measured is the daemon's own (its map worker lowers itself to 19).
      boost(lab, -10);
      context.figures['load average'] = loadavg()[0]?.toFixed(1) ?? '?';
      const idle = pauseProbe(lab.ports.socketmap);
      await new Promise((r) => setTimeout(r, 300));
      const baseline = await idle.stop();
      const probe = pauseProbe(lab.ports.socketmap);
      const started = Date.now();
      await reloadAndWait(lab, /configuration reloaded/);
      context.figures['reload ms'] = Date.now() - started;
      await new Promise((r) => setTimeout(r, 200));
      const during = await probe.stop();
      boost(lab, 0);
      context.figures['longest lookup pause ms'] = Math.round(during.maxMs * 10) / 10;
      context.figures['baseline longest ms'] = Math.round(baseline.maxMs * 10) / 10;
      context.figures['lookups'] = during.lookups;
      if (during.failures > 0) context.notes.push(`${during.failures} lookups did not answer OK during the reload`);
    },
    heal: async (lab) => {
      writeFileSync(lab.pinsPath, `${PINNED_DOMAIN}: ${ONION}\n`);
      await reloadAndWait(lab, /configuration reloaded/);
    },
    check: (_lab, r) => {
      const pause = Number(r.figures['longest lookup pause ms']);
      return [...(pause > PAUSE_TARGET_MS ? [`longest pause ${pause} ms > ${PAUSE_TARGET_MS} ms`] : []), ...(r.mtaSaw.split(', ').every((s) => s.startsWith('250 ')) ? [] : [`refusals during the reload: ${r.mtaSaw}`])];
    },
  },
  {
    group: 'daemon',
    name: 'log disk full (stdout on /dev/full)',
    before: (lab) => lab.restartDaemon({}, { kind: 'stdout', to: 'dev-full' }),
    inject: () => Promise.resolve(),
    heal: () => Promise.resolve(),
    after: (lab) => lab.restartDaemon(),
  },
  {
    group: 'daemon',
    name: 'log reader stalled (stdout pipe never read, debug level)',
    faulted: 40,
    before: (lab) => lab.restartDaemon({ 'log.level': 'debug' }, { kind: 'stdout', to: 'unread-pipe' }),
    inject: () => Promise.resolve(),
    heal: () => Promise.resolve(),
    after: (lab) => lab.restartDaemon(),
  },
  {
    group: 'daemon',
    name: 'fd limit reached',
    before: async (lab) => {
      fdBaseline = openFds(lab.daemon.child.pid);
      const limit = fdBaseline + 40;
      await lab.restartDaemon({}, { kind: 'normal', wrapper: ['prlimit', `--nofile=${limit}:${limit}`] });
    },
    inject: async (lab, context) => {
      // An SMTP session whose milter connection is open before the limit is reached.
      openSession = await openSmtp(lab.pf.smtpPort);
      await openSession.ehlo();
      const { held, refused } = await exhaust(lab.ports.milter, 64);
      heldSockets = held;
      context.figures['fds at start'] = fdBaseline;
      context.figures['idle connections held'] = held.length;
      context.notes.push(`new connection: ${refused}`);
      const r = await openSession.send({ from: 'existing@sender.faults.test', to: [`existing@${PINNED_DOMAIN}`], message: buildMessage([['Subject', 'existing session']]) });
      context.notes.push(`existing session: ${r.data?.raw ?? r.rcpts[0]?.reply.raw ?? '?'}`);
      await openSession.quit().catch(() => undefined);
    },
    heal: () => {
      for (const s of heldSockets) s.destroy();
      heldSockets = [];
      return Promise.resolve();
    },
    after: (lab) => lab.restartDaemon(),
    check: (_lab, r) => (r.notes.some((n) => n.startsWith('existing session: 250 ')) ? [] : ['the session opened before the limit did not finish with 250']),
  },
];
