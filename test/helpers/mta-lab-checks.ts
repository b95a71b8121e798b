// Assertions the Exim and Sendmail suites share, made from outside their lab (mta-lab.ts).
import assert from 'node:assert/strict';
import type { NetnsWorker } from './netns.ts';
import { CLEARNET_DOMAIN, EXPECTED_HEADER, ONION, ONION_DOMAIN, RELAY_HELO, ROUTE_HEADER, type DaemonMemory, type LargeMessageResult, type SocksSeen } from './mta-lab-fixtures.ts';
import type { SinkMessage } from './smtp-sink.ts';
import type { TransactionResult } from './smtp-client.ts';
import { buildMessage, headerValues } from './smtp-message.ts';

/**
 * Sends one SMTP message into the lab's MTA for an onion-routed and a clearnet recipient, carrying
 * a forged routing header; asserts both recipients and the data were accepted, the onion sink got
 * its recipient from the relay (its EHLO name), with no routing header (the relay strips it), and
 * the clearnet sink its own with the daemon's header only (the forged one gone).
 * Returns the two delivered copies for the suite's further checks.
 */
export async function sendMixedMessage(lab: NetnsWorker, subject: string, forgedHeader: string): Promise<{ viaTor: SinkMessage; clear: SinkMessage }> {
  const result = await lab.call<TransactionResult>('smtp', {
    from: 'alice@sender.example',
    to: [`bob@${ONION_DOMAIN}`, `carol@${CLEARNET_DOMAIN}`],
    message: buildMessage([
      ['Subject', subject],
      [ROUTE_HEADER, forgedHeader],
    ]),
  });
  assert.deepEqual(
    result.rcpts.map((r) => r.reply.code),
    [250, 250],
    JSON.stringify(result.rcpts),
  );
  assert.equal(result.data?.code, 250, result.data?.raw);
  const viaTor = await lab.call<SinkMessage>('waitForMessage', 'onion', subject);
  assert.deepEqual(viaTor.to, [`bob@${ONION_DOMAIN}`]);
  assert.equal(viaTor.helo, RELAY_HELO, 'the onion got it from the relay');
  assert.deepEqual(headerValues(viaTor.data, ROUTE_HEADER), [], 'the relay strips the routing header');
  const clear = await lab.call<SinkMessage>('waitForMessage', 'clearnet', subject);
  assert.deepEqual(clear.to, [`carol@${CLEARNET_DOMAIN}`]);
  assert.deepEqual(headerValues(clear.data, ROUTE_HEADER), [EXPECTED_HEADER], 'the forged header is gone and the milter added its own');
  return { viaTor, clear };
}

/** The relay's SOCKS request for ONION: a CONNECT by name (ATYP 3), isolated by its own user name, that Tor granted. */
export const relayConnect = (r: SocksSeen): boolean => r.command === 'connect' && r.atyp === 3 && r.destination === `${ONION}:25` && r.rep === 0 && r.username !== undefined && r.username !== '';

/** The regular-expression source matching `text` literally. */
export const literal = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const MB = 1024 * 1024;

/**
 * Streams a generated message of `megabytes` MB to `to` through the lab's MTA (the `smtpLarge`
 * RPC) and waits for `delivered` (the MTA's own record of the delivery); asserts it was accepted
 * and arrived whole at the onion. Returns the relay's peak RSS over its RSS before (VmHWM after,
 * reset first, minus VmRSS before) and that figure in words.
 */
export async function relayGrowthStreaming(lab: NetnsWorker, to: string, subject: string, megabytes: number, delivered: () => Promise<unknown>): Promise<{ growth: number; figure: string }> {
  await lab.call('resetDaemonPeak');
  const before = await lab.call<DaemonMemory>('daemonMemory');
  const result = await lab.call<LargeMessageResult>('smtpLarge', 'alice@sender.example', [to], subject, megabytes);
  assert.equal(result.data.code, 250, result.data.raw);
  await delivered();
  const after = await lab.call<DaemonMemory>('daemonMemory');
  assert.ok(result.size >= megabytes * MB, `${String(result.size)} octets arrived`);
  assert.ok(result.bodyIntact, 'the body arrived intact');
  const growth = after.hwm - before.rss;
  const figure = `relay RSS ${(before.rss / MB).toFixed(1)} MB before, peak ${(after.hwm / MB).toFixed(1)} MB while streaming ${(result.size / MB).toFixed(1)} MB: growth ${(growth / MB).toFixed(1)} MB`;
  return { growth, figure };
}
