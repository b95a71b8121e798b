// The upstream tests' setup: the Tor stand-in, SMTP sinks behind onion destinations, upstream
// halves with short timeouts where a test needs them, and one delivery through begin..release.
import assert from 'node:assert/strict';
import { createUpstreams } from '../../../src/relay/upstream/index.ts';
import type { UpstreamOptions } from '../../../src/relay/upstream/options.ts';
import type { UpstreamBegin, UpstreamTransaction, Upstreams } from '../../../src/relay/upstream/api.ts';
import type { MailParams, RcptParams, SmtpReply } from '../../../src/relay/envelope.ts';
import type { OnionTarget } from '../../../src/resolve/types.ts';
import { startFakeTor, type FakeTor } from '../../helpers/fake-tor.ts';
import { startSink, type Sink, type SinkOptions } from '../../helpers/smtp-sink.ts';

export const ONION = 'pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion';
export const OTHER = 'xa4r2iadxm55fbnqgwwi5mymqdcofiu3w6rpbtqn7b2dyn7mgwj64jyd.onion';

export interface Lab {
  readonly tor: FakeTor;
  /** A sink reachable through the fake Tor as `onion:port` (a new port per call unless given). */
  sink(options?: SinkOptions, onion?: string, port?: number): Promise<{ readonly sink: Sink; readonly target: OnionTarget }>;
  /** An upstream half through the fake Tor; closed with the lab. */
  upstreams(options?: Partial<UpstreamOptions>): Upstreams;
  close(): Promise<void>;
}

let nextPort = 2500;

export async function startLab(): Promise<Lab> {
  const tor = await startFakeTor();
  const sinks: Sink[] = [];
  const ups: Upstreams[] = [];
  return {
    tor,
    async sink(options = {}, onion = ONION, port = nextPort++) {
      const sink = await startSink(options);
      sinks.push(sink);
      tor.route(`${onion}:${port}`, { host: '127.0.0.1', port: sink.port });
      return { sink, target: { onion, port } };
    },
    upstreams(options = {}) {
      const up = createUpstreams({ proxy: { kind: 'tcp', host: '127.0.0.1', port: tor.port }, ...options });
      ups.push(up);
      return up;
    },
    async close() {
      await Promise.all(ups.map((u) => u.close(0)));
      await tor.close();
      await Promise.all(sinks.map((s) => s.close()));
    },
  };
}

export interface Delivery {
  readonly from?: string;
  readonly mailParams?: MailParams;
  readonly to?: readonly (string | { readonly address: string; readonly params: RcptParams })[];
  /** Message bytes in wire form (dot-stuffed, CRLF), written in these chunks. */
  readonly chunks?: readonly Uint8Array[];
}

export interface Delivered {
  readonly transaction: UpstreamTransaction;
  readonly mail: SmtpReply;
  readonly rcpts: readonly SmtpReply[];
  readonly data: SmtpReply | undefined;
  readonly end: SmtpReply | undefined;
}

export const MESSAGE = Buffer.from('Subject: test\r\n\r\nHello.\r\n');

export function begun(result: UpstreamBegin): UpstreamTransaction {
  assert.ok(result.ok, `begin failed: ${result.ok ? '' : `${result.reply.code} ${result.reply.lines.join(' / ')}`}`);
  return result.transaction;
}

/** MAIL, every RCPT, and DATA with the message when any RCPT was accepted; release() unless told not to. */
export async function deliver(up: Upstreams, hops: readonly OnionTarget[], d: Delivery = {}, release = true): Promise<Delivered> {
  const transaction = begun(await up.begin(hops));
  const result = await transact(transaction, d);
  if (release) transaction.release();
  return result;
}

export async function transact(transaction: UpstreamTransaction, d: Delivery = {}): Promise<Delivered> {
  const mail = await transaction.mail({ reversePath: d.from ?? 'sender@example.org', params: d.mailParams ?? {} });
  const rcpts: SmtpReply[] = [];
  if (mail.code === 250) {
    for (const r of d.to ?? ['rcpt@example.net']) {
      rcpts.push(await transaction.rcpt(typeof r === 'string' ? { forwardPath: r, params: {} } : { forwardPath: r.address, params: r.params }));
    }
  }
  if (!rcpts.some((r) => r.code === 250)) return { transaction, mail, rcpts, data: undefined, end: undefined };
  const data = await transaction.data();
  if (data.code !== 354) return { transaction, mail, rcpts, data, end: undefined };
  for (const chunk of d.chunks ?? [MESSAGE]) {
    if (!transaction.write(chunk)) await transaction.drained();
  }
  return { transaction, mail, rcpts, data, end: await transaction.end() };
}

/** begin, MAIL, one RCPT and DATA: a transaction that waits for the message bytes. */
export async function inData(up: Upstreams, hops: readonly OnionTarget[]): Promise<UpstreamTransaction> {
  const tx = begun(await up.begin(hops));
  assert.equal((await tx.mail({ reversePath: 's@example.org', params: {} })).code, 250);
  assert.equal((await tx.rcpt({ forwardPath: 'r@example.net', params: {} })).code, 250);
  assert.equal((await tx.data()).code, 354);
  return tx;
}

export function enhanced(reply: SmtpReply): string {
  return /^\d\.\d{1,3}\.\d{1,3}/.exec(reply.lines[0] ?? '')?.[0] ?? '';
}

export function text(reply: SmtpReply): string {
  return `${reply.code} ${reply.lines.join(' / ')}`;
}

/** A bounded poll for state that emits no event (the pool's counts). */
export async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
