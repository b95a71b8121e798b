// The MTA side of the soak: milter sessions running full transactions (milter-load.ts) and
// socketmap / tcp_table lookup connections, each checked against the exact answer the daemon must
// give. Failures are counted, never thrown: the soak reports how many and the first few.
import { MilterClient } from '../../src/milter/client.ts';
import { defaults } from '../../src/config/schema.ts';
import { socketmapClient, tcpTableClient, type LookupClient } from '../lookup/lookup-clients.ts';
import { openConnection, transaction, PLAIN_SCENARIO, type Scenario } from './milter-load.ts';
import { pinnedDomain, SOAK_ONION } from './soak-daemon.ts';

/** Three pinned recipients sharing one onion: each continues, end of message adds the route. */
export function soakScenario(seq: number): Scenario {
  return {
    recipients: [0, 1, 2].map((r) => `user${r}@${pinnedDomain(seq * 3 + r)}`),
    rcptReplies: PLAIN_SCENARIO.rcptReplies,
    header: { name: defaults.header.name, value: `${defaults.header.transport}:[${SOAK_ONION}]:25` },
  };
}

export class ErrorLog {
  count = 0;
  readonly first: string[] = [];

  add(what: string, err: unknown): void {
    this.count++;
    if (this.first.length < 5) this.first.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

export type LookupKind = 'socketmap' | 'tcp_table';

export interface LookupEndpoints {
  readonly socketmapPort: number;
  readonly tcpTablePort: number;
}

export interface LookupConnection {
  readonly kind: LookupKind;
  /** One lookup of a pinned domain; throws unless the reply is exactly the route. */
  lookup(seq: number): Promise<void>;
  close(): void;
}

export async function openLookup(kind: LookupKind, ports: LookupEndpoints): Promise<LookupConnection> {
  const client: LookupClient = kind === 'socketmap' ? await socketmapClient({ port: ports.socketmapPort }) : await tcpTableClient({ port: ports.tcpTablePort });
  const route = `${defaults.header.transport}:[${SOAK_ONION}]:25`;
  // tcp_table values are %XX-encoded on the wire: `:` and `[` stay, so the route reads the same.
  const want = kind === 'socketmap' ? `OK ${route}` : `200 ${route}`;
  return {
    kind,
    async lookup(seq) {
      const key = `user${seq}@${pinnedDomain(seq)}`;
      const reply = kind === 'socketmap' ? await client.ask('transport', key) : await client.ask(key);
      if (reply !== want) throw new Error(`${kind} ${key}: expected ${JSON.stringify(want)}, got ${JSON.stringify(reply)}`);
    },
    close: () => {
      client.close();
    },
  };
}

/** Runs `open` for every index with at most `parallel` in flight (a burst of 1000 SYNs would overflow the backlog). */
export async function openInBatches<T>(count: number, parallel: number, open: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array<T>(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, count) }, async () => {
      while (next < count) {
        const i = next++;
        out[i] = await open(i);
      }
    }),
  );
  return out;
}

export interface BurstResult {
  readonly transactions: number;
  readonly lookups: number;
}

/**
 * Opens `sessions` milter connections and `lookups` lookup connections (half socketmap, half
 * tcp_table), all at once, then runs `transactionsEach` transactions on every session and
 * `lookupsEach` lookups on every lookup connection concurrently, and closes them.
 */
export async function burst(
  milter: string,
  ports: LookupEndpoints,
  o: { readonly sessions: number; readonly lookups: number; readonly transactionsEach: number; readonly lookupsEach: number },
  errors: ErrorLog,
): Promise<BurstResult> {
  let transactions = 0;
  let lookups = 0;
  const sessions = await openInBatches(o.sessions, 50, (i) =>
    openConnection(milter, i).catch((err: unknown) => {
      errors.add(`milter connection ${i}`, err);
      return undefined;
    }),
  );
  const lookupConns = await openInBatches(o.lookups, 50, (i) =>
    openLookup(i % 2 === 0 ? 'socketmap' : 'tcp_table', ports).catch((err: unknown) => {
      errors.add(`lookup connection ${i}`, err);
      return undefined;
    }),
  );
  const runSession = async (client: MilterClient | undefined, i: number): Promise<void> => {
    if (client === undefined) return;
    try {
      for (let t = 0; t < o.transactionsEach; t++) {
        await transaction(client, `B${i.toString(36)}Q${t}`, soakScenario(i + t));
        transactions++;
      }
      await client.quit();
    } catch (err) {
      errors.add(`milter session ${i}`, err);
      client.destroy();
    }
  };
  const runLookups = async (conn: LookupConnection | undefined, i: number): Promise<void> => {
    if (conn === undefined) return;
    try {
      for (let n = 0; n < o.lookupsEach; n++) {
        await conn.lookup(i * o.lookupsEach + n);
        lookups++;
      }
    } catch (err) {
      errors.add(`lookup connection ${i}`, err);
    } finally {
      conn.close();
    }
  };
  await Promise.all([...sessions.map(runSession), ...lookupConns.map(runLookups)]);
  return { transactions, lookups };
}
