// Thin socket glue: one UDP or TCP exchange with one server. Matching and policy live in the
// caller's onMessage callback; these functions only move bytes and never throw.
import { createSocket, type RemoteInfo } from 'node:dgram';
import { connect, isIP } from 'node:net';
import { errorMessage } from '../../errors.ts';
import { DnsTcpFramer, frameTcpMessage } from './tcp-framer.ts';

export interface Endpoint {
  readonly address: string;
  readonly port: number;
}

export type ExchangeOutcome<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly reason: 'aborted' | 'network' | 'malformed'; readonly detail: string };

/** What the caller makes of one received message: a result (done), or undefined (keep waiting). */
export type OnMessage<T, F> = (message: Buffer, from: F) => T | undefined;

/**
 * Sends one datagram from a fresh socket on a kernel-chosen port (a new source port per query
 * defeats port-guessing spoofers) and waits until onMessage accepts a reply or the signal aborts.
 */
export function udpExchange<T>(server: Endpoint, payload: Buffer, onMessage: OnMessage<T, RemoteInfo>, signal: AbortSignal): Promise<ExchangeOutcome<T>> {
  return new Promise((resolve) => {
    const socket = createSocket(isIP(server.address) === 6 ? 'udp6' : 'udp4');
    let isDone = false;
    const finish = (outcome: ExchangeOutcome<T>): void => {
      if (isDone) return;
      isDone = true;
      signal.removeEventListener('abort', onAbort);
      try {
        socket.close();
      } catch {
        // already closed after an error
      }
      resolve(outcome);
    };
    const onAbort = (): void => {
      finish({ ok: false, reason: 'aborted', detail: 'no acceptable UDP reply before the attempt ended' });
    };
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    socket.on('error', (err) => {
      finish({ ok: false, reason: 'network', detail: `UDP: ${err.message}` });
    });
    socket.on('message', (message, from) => {
      if (isDone) return;
      const value = onMessage(message, from);
      if (value !== undefined) finish({ ok: true, value });
    });
    socket.bind(0, () => {
      socket.send(payload, server.port, server.address, (err) => {
        if (err) finish({ ok: false, reason: 'network', detail: `UDP send: ${err.message}` });
      });
    });
  });
}

/** One query over a fresh TCP connection with 2-octet length framing. */
export function tcpExchange<T>(
  server: Endpoint,
  payload: Buffer,
  onMessage: OnMessage<T, Endpoint>,
  signal: AbortSignal,
  maxMessageBytes = 0xffff,
): Promise<ExchangeOutcome<T>> {
  return new Promise((resolve) => {
    const framer = new DnsTcpFramer(maxMessageBytes);
    const socket = connect({ host: server.address, port: server.port });
    let isDone = false;
    const finish = (outcome: ExchangeOutcome<T>): void => {
      if (isDone) return;
      isDone = true;
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(outcome);
    };
    const onAbort = (): void => {
      finish({ ok: false, reason: 'aborted', detail: 'no TCP reply before the attempt ended' });
    };
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    socket.on('connect', () => socket.write(frameTcpMessage(payload)));
    socket.on('error', (err) => {
      finish({ ok: false, reason: 'network', detail: `TCP: ${err.message}` });
    });
    socket.on('close', () => {
      finish({ ok: false, reason: 'network', detail: 'TCP connection closed before a reply' });
    });
    socket.on('data', (chunk: Buffer) => {
      let messages: Buffer[];
      try {
        messages = framer.push(chunk);
      } catch (err) {
        finish({ ok: false, reason: 'malformed', detail: errorMessage(err) });
        return;
      }
      for (const message of messages) {
        const value = onMessage(message, server);
        if (value !== undefined) {
          finish({ ok: true, value });
          return;
        }
      }
    });
  });
}
