// Small loopback peers the daemon benches share: a probe that tells whether a listener accepts, and
// a DNS "server" that counts queries and never answers (so a bench can show it sent none).
import { createSocket, type Socket } from 'node:dgram';
import { connect, type NetConnectOpts } from 'node:net';

/** Whether a connection to `target` (a unix path, or a loopback TCP port) is accepted now. */
export function accepts(target: string | number): Promise<boolean> {
  const options: NetConnectOpts = typeof target === 'number' ? { port: target, host: '127.0.0.1' } : { path: target };
  return new Promise((resolve) => {
    const socket = connect(options);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      resolve(false);
    });
  });
}

export interface SilentDns {
  readonly socket: Socket;
  readonly port: number;
  queries(): number;
}

/** A UDP "DNS server" on loopback that counts queries and never answers. */
export function silentDnsServer(): Promise<SilentDns> {
  return new Promise((resolve, reject) => {
    let queries = 0;
    const socket = createSocket('udp4');
    socket.on('message', () => {
      queries++;
    });
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      resolve({ socket, port: socket.address().port, queries: () => queries });
    });
  });
}
